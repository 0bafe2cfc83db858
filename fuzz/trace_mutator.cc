#include "fuzz/trace_mutator.h"

#include <algorithm>
#include <cstring>
#include <random>

#include "core/bytes.h"

// libFuzzer's own byte mutation. Weak: AFL++'s driver and the replay driver do not define it
// (and never call the custom mutator).
extern "C" __attribute__((weak)) size_t LLVMFuzzerMutate(uint8_t* data, size_t size,
                                                         size_t max_size);

namespace lockstep::fuzz {
namespace {

using Bytes = std::vector<uint8_t>;
using Rng = std::minstd_rand;

constexpr size_t kFreshBytes = 48;  // random bytes drawn for a new op (longer ops are cut)

// The options byte (absent in an empty input) and each op's bytes.
struct Ops {
  Bytes options;
  std::vector<Bytes> ops;

  Bytes join() const {
    Bytes out = options;
    for (const Bytes& op : ops) out.insert(out.end(), op.begin(), op.end());
    return out;
  }
};

Ops split(const CodecView& codec, std::span<const uint8_t> input) {
  const std::vector<size_t> at = codec.offsets(input);
  Ops s;
  s.options.assign(input.begin(), input.begin() + static_cast<ptrdiff_t>(at[0]));
  for (size_t i = 0; i + 1 < at.size(); ++i)
    s.ops.emplace_back(input.begin() + static_cast<ptrdiff_t>(at[i]),
                       input.begin() + static_cast<ptrdiff_t>(at[i + 1]));
  return s;
}

size_t pick(Rng& rng, size_t n) {
  return n ? rng() % n : 0;
}

// A new op at position k, in its domains for the state the ops before it leave: random bytes
// (with `opcode` first, if given) decoded after ops [0, k). Empty when no op fits there.
Bytes fresh_op(const CodecView& codec, const Ops& s, size_t k, Rng& rng, const uint8_t* opcode) {
  Ops prefix{s.options, {s.ops.begin(), s.ops.begin() + static_cast<ptrdiff_t>(k)}};
  Bytes probe = prefix.join();
  const size_t start = probe.size();
  for (size_t i = 0; i < kFreshBytes; ++i) probe.push_back(static_cast<uint8_t>(rng()));
  if (opcode) probe[start] = *opcode;
  const std::vector<size_t> at = codec.offsets(probe);
  if (at.size() < k + 2 || at[k] != start) return {};
  return Bytes(probe.begin() + static_cast<ptrdiff_t>(at[k]),
               probe.begin() + static_cast<ptrdiff_t>(at[k + 1]));
}

// An argument byte: in its field's domain three times in four (below ByteReader::kEscape).
uint8_t argument_byte(Rng& rng) {
  return static_cast<uint8_t>(rng() % 4 ? rng() % ByteReader::kEscape : rng());
}

enum class Edit { Insert, Delete, Duplicate, Swap, Redraw, Argument, Options, Bytes };
// Relative weights; Bytes (libFuzzer's byte mutation) about one time in five.
constexpr Edit kEdits[] = {
    Edit::Insert,    Edit::Insert,    Edit::Insert,   Edit::Insert,   Edit::Delete,   Edit::Delete,
    Edit::Duplicate, Edit::Duplicate, Edit::Swap,     Edit::Swap,     Edit::Redraw,   Edit::Redraw,
    Edit::Redraw,    Edit::Argument,  Edit::Argument, Edit::Argument, Edit::Argument, Edit::Options,
    Edit::Bytes,     Edit::Bytes,     Edit::Bytes,    Edit::Bytes};

// One edit of the op list; false when it does not apply (e.g. deleting from an empty list).
bool edit_ops(const CodecView& codec, Ops& s, Edit edit, Rng& rng) {
  const size_t n = s.ops.size();
  const size_t k = pick(rng, n);
  switch (edit) {
    case Edit::Insert: {
      const size_t at = pick(rng, n + 1);
      Bytes op = fresh_op(codec, s, at, rng, nullptr);
      if (op.empty()) return false;
      s.ops.insert(s.ops.begin() + static_cast<ptrdiff_t>(at), std::move(op));
      return true;
    }
    case Edit::Delete:
      if (!n) return false;
      s.ops.erase(s.ops.begin() + static_cast<ptrdiff_t>(k));
      return true;
    case Edit::Duplicate: {  // a copy later on: its handle bytes resolve in the later state
      if (!n) return false;
      const size_t at = k + 1 + pick(rng, n - k);
      s.ops.insert(s.ops.begin() + static_cast<ptrdiff_t>(at), s.ops[k]);
      return true;
    }
    case Edit::Swap: {
      if (n < 2) return false;
      std::swap(s.ops[k], s.ops[pick(rng, n)]);
      return true;
    }
    case Edit::Redraw: {  // same opcode byte, every argument drawn again
      if (!n || s.ops[k].empty()) return false;
      Bytes op = fresh_op(codec, s, k, rng, &s.ops[k][0]);
      if (op.empty()) return false;
      s.ops[k] = std::move(op);
      return true;
    }
    case Edit::Argument: {
      if (!n || s.ops[k].size() < 2) return false;
      s.ops[k][1 + pick(rng, s.ops[k].size() - 1)] = argument_byte(rng);
      return true;
    }
    case Edit::Options:
      if (s.options.empty()) return false;
      s.options[0] ^= static_cast<uint8_t>(1u << pick(rng, 8));
      return true;
    case Edit::Bytes:
      return false;
  }
  return false;
}

size_t store(const Bytes& bytes, uint8_t* out, size_t max_size) {
  const size_t size = std::min(bytes.size(), max_size);
  std::memcpy(out, bytes.data(), size);
  return size;
}

size_t mutate_bytes(uint8_t* data, size_t size, size_t max_size, Rng& rng) {
  if (LLVMFuzzerMutate) return LLVMFuzzerMutate(data, size, max_size);
  if (size) data[pick(rng, size)] = static_cast<uint8_t>(rng());
  return size;
}

}  // namespace

size_t mutate_trace(const CodecView& codec, uint8_t* data, size_t size, size_t max_size,
                    unsigned seed) {
  Rng rng(seed);
  if (max_size == 0) return 0;
  Ops s = split(codec, {data, size});
  if (s.options.empty())  // an empty input: start a structured one
    s.options.push_back(
        static_cast<uint8_t>(codec.structured_options + pick(rng, 256 - codec.structured_options)));
  for (int attempt = 0; attempt < 4; ++attempt) {
    const Edit edit = kEdits[pick(rng, std::size(kEdits))];
    if (edit == Edit::Bytes && size) return mutate_bytes(data, size, max_size, rng);
    if (edit_ops(codec, s, edit, rng)) return store(s.join(), data, max_size);
  }
  return store(s.join(), data, max_size);
}

size_t cross_over_traces(const CodecView& codec, const uint8_t* a, size_t a_size, const uint8_t* b,
                         size_t b_size, uint8_t* out, size_t max_out_size, unsigned seed) {
  Rng rng(seed);
  Ops first = split(codec, {a, a_size});
  const Ops second = split(codec, {b, b_size});
  first.ops.resize(pick(rng, first.ops.size() + 1));
  const size_t from = pick(rng, second.ops.size() + 1);
  first.ops.insert(first.ops.end(), second.ops.begin() + static_cast<ptrdiff_t>(from),
                   second.ops.end());
  if (first.options.empty()) first.options = second.options;
  return store(first.join(), out, max_out_size);
}

}  // namespace lockstep::fuzz
