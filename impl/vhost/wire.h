// vhost-user framing on a real AF_UNIX SOCK_STREAM socket (docs/vhost-backend-rules.md W1-W5).
//
// Ownership: every fd that arrives with SCM_RIGHTS is wrapped in a UniqueFd inside recvmsg's
// own loop, before anything else can fail, so each received fd has exactly one owner from the
// moment it exists in this process.
//
// Reading: a MessageReader never reads past the message it is assembling (first exactly the
// 12 header bytes, then exactly `size` payload bytes). The fds received while reading a
// message's bytes are that message's fds (rule X2). Reads are non-blocking and partial reads
// are buffered, so one reader can be driven by an event loop or by a fuzzer in-process.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "core/vhost/uapi.h"

namespace lockstep::vhost {

// The single owner of one file descriptor.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1);  // closes the current fd, if any

 private:
  int fd_ = -1;
};

// A new AF_UNIX SOCK_STREAM socketpair, both ends O_CLOEXEC. Empty fds on failure (errno set).
std::pair<UniqueFd, UniqueFd> stream_socketpair();

// The framing lives in its own namespace: model/vhost has a Message of its own, and fuzz
// targets and tools include both sides.
namespace wire {

struct Header {
  uint32_t request = 0;
  uint32_t flags = 0;
  uint32_t size = 0;
};
static_assert(sizeof(Header) == uapi::kHeaderSize);

struct Message {
  Header hdr;
  std::vector<uint8_t> payload;  // exactly hdr.size bytes
  std::vector<UniqueFd> fds;     // at most uapi::kMaxFds
  // The payload as a u64 when it is exactly 8 bytes; else `fallback`.
  uint64_t u64(uint64_t fallback = ~uint64_t{0}) const;
};

// The 12 header bytes followed by `payload`.
std::vector<uint8_t> frame(const Header& hdr, std::span<const uint8_t> payload);

// One sendmsg of `bytes` with `fds` attached (SCM_RIGHTS; at most 253, the kernel's limit).
// MSG_NOSIGNAL; EINTR is retried. With `dontwait`, MSG_DONTWAIT. Returns the number of bytes the
// kernel took (a stream socket may take fewer than offered; the fds went with them), or -errno.
// `bytes` must not be empty when fds are attached.
long send_some(int sock, std::span<const uint8_t> bytes, std::span<const int> fds, bool dontwait);

// Sends all of `bytes` (fds with the first chunk), blocking. 0 or -errno.
int send_all(int sock, std::span<const uint8_t> bytes, std::span<const int> fds);

// Assembles messages from a stream socket, non-blocking.
class MessageReader {
 public:
  enum class Status : uint8_t {
    kMessage,     // `out` holds one complete message
    kWouldBlock,  // nothing more to read now; partial data (and its fds) stays buffered
    kClosed,      // EOF (a partial message and its fds are dropped)
    kError,       // recvmsg failed (errno in last_errno())
    kBadHeader,   // the header check refused the header (W2)
    kOversize,    // header size above the reader's maximum (W3)
    kTooManyFds,  // MSG_CTRUNC, or more than uapi::kMaxFds fds for one message (W5)
  };
  // Called once per message as soon as its header is complete; false -> kBadHeader.
  using HeaderCheck = bool (*)(const Header&);

  explicit MessageReader(uint32_t max_payload = uapi::kMaxPayload, HeaderCheck check = nullptr)
      : max_payload_(max_payload), check_(check) {}

  // Reads until one message is complete, the socket would block, or an error. Every status
  // except kMessage and kWouldBlock is final for the stream: the buffered bytes and every fd
  // received so far are dropped (the fds closed) and the reader is reset.
  Status read(int sock, Message& out);

  bool partial() const { return have_ > 0; }
  size_t pending_fds() const { return fds_.size(); }
  const Header* pending_header() const { return have_ >= uapi::kHeaderSize ? &hdr_ : nullptr; }
  int last_errno() const { return last_errno_; }
  void reset();  // drops the partial message and closes its fds

 private:
  Status fail(Status status);

  uint32_t max_payload_;
  HeaderCheck check_;
  Header hdr_{};
  uint8_t hdr_bytes_[uapi::kHeaderSize] = {};
  std::vector<uint8_t> payload_;
  size_t have_ = 0;  // bytes of the current message read so far (header + payload)
  std::vector<UniqueFd> fds_;
  int last_errno_ = 0;
};

const char* to_string(MessageReader::Status status);

}  // namespace wire
}  // namespace lockstep::vhost
