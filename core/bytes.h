// Total byte readers/writers for the fuzz-input codecs: reading past the end yields zeros, so
// every byte string decodes to some trace (libFuzzer and AFL++ never hit a rejected input).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

namespace lockstep {

class ByteReader {
 public:
  explicit ByteReader(std::span<const uint8_t> data) : data_(data) {}
  bool empty() const { return pos_ >= data_.size(); }
  size_t pos() const { return pos_; }  // bytes consumed so far (at most data.size())
  uint8_t u8() { return pos_ < data_.size() ? data_[pos_++] : 0; }
  template <class T>
  T uint() {  // little-endian, sizeof(T) bytes
    T v = 0;
    for (size_t i = 0; i < sizeof(T); ++i) v |= static_cast<T>(static_cast<T>(u8()) << (8 * i));
    return v;
  }
  // A field of a structured fuzz input: one byte below kEscape names one of `values` (repeat a
  // value to weight it), so random bytes land in the field's domain 7 times in 8; a byte at or
  // above kEscape is followed by the field's raw little-endian value.
  static constexpr uint8_t kEscape = 0xe0;
  template <class T, size_t N>
  T choice(const T (&values)[N]) {
    const uint8_t b = u8();
    return b < kEscape ? values[b % N] : uint<T>();
  }
  std::vector<uint8_t> bytes(size_t n) {
    std::vector<uint8_t> out;
    out.reserve(n);
    for (size_t i = 0; i < n; ++i) out.push_back(u8());
    return out;
  }

 private:
  std::span<const uint8_t> data_;
  size_t pos_ = 0;
};

class ByteWriter {
 public:
  void u8(uint8_t v) { out_.push_back(v); }
  template <class T>
  void uint(T v) {
    for (size_t i = 0; i < sizeof(T); ++i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  void bytes(std::span<const uint8_t> b) { out_.insert(out_.end(), b.begin(), b.end()); }
  std::vector<uint8_t> take() { return std::move(out_); }

 private:
  std::vector<uint8_t> out_;
};

// The T stored at `offset` in native byte order, as the wire structs are; a T that does not fit
// in the bytes reads as all zeros (the models' rule for a payload too short to hold a field).
template <class T>
T load(std::span<const uint8_t> bytes, size_t offset = 0) {
  T value{};
  if (bytes.size() >= offset && bytes.size() - offset >= sizeof(T))
    std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

// Lower-case hex, two digits a byte.
inline std::string hex(std::span<const uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * bytes.size());
  for (uint8_t b : bytes) {
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

}  // namespace lockstep
