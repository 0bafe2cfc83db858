// A vhost-user front-end client for fuzzers, tests and peers. It sends any frame, including
// malformed ones (lying size, bad flags, partial header, raw bytes), with any fds attached
// (fresh memfds, eventfds, plain files, ... created on demand and closed right after the
// sendmsg), and receives replies with a timeout, classifying every fd that comes back by
// readlink(/proc/self/fd/N) ("anon_inode:[userfaultfd]" -> FdKind::Uffd) and closing it unless
// asked to keep it. Works over a socketpair end (our Backend in-process) and over a UNIX socket
// path (tools/vhost_backend_main.cc, DPDK's librte_vhost peer).
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/vhost/ops.h"
#include "impl/vhost/wire.h"

namespace lockstep::vhost {

// A fresh fd of the given kind, O_CLOEXEC: Eventfd -> eventfd(0, EFD_NONBLOCK); Memfd ->
// memfd_create + ftruncate(size) (a size the kernel refuses leaves it empty: the back-end never
// looks at a region fd's size); File -> /dev/null O_RDWR; Uffd -> a userfaultfd (no UFFDIO_API);
// Other -> an AF_UNIX datagram socket. Empty on failure (errno set).
UniqueFd make_fd(const FdSpec& spec);

// What an fd refers to, from /proc/self/fd/N; `target` receives the link text.
FdKind classify_fd(int fd, std::string* target = nullptr);
FdKind classify_fd_target(std::string_view target);

class Frontend {
 public:
  Frontend() = default;
  explicit Frontend(UniqueFd sock);

  // Connects to a listening vhost-user socket (SOCK_STREAM). Not connected on failure, errno in
  // *err when given.
  static Frontend connect(const std::string& path, int* err = nullptr);

  bool connected() const { return static_cast<bool>(sock_); }
  int fd() const { return sock_.get(); }
  void close();  // the back-end sees EOF

  // One frame in one sendmsg (header + payload, as QEMU sends it; DPDK needs that): header
  // {request, flags, size ? *size : payload.size()}, then exactly `payload`, with one fresh fd
  // per spec attached. Blocking. 0 or -errno (-EPIPE once the back-end has closed).
  int send(uint32_t request, uint32_t flags, std::span<const uint8_t> payload,
           std::span<const FdSpec> fds = {}, std::optional<uint32_t> size = {});
  int send(const Send& op);
  // Arbitrary bytes (partial header, two frames in one write, ...) with fresh fds attached.
  int send_raw(std::span<const uint8_t> bytes, std::span<const FdSpec> fds = {});
  // Arbitrary bytes with the caller's fds (not closed here). Blocking.
  int send_raw_fds(std::span<const uint8_t> bytes, std::span<const int> fds);
  // Non-blocking: the bytes the kernel took (the fds went with the first one), or -errno
  // (-EAGAIN when the socket is full). For in-process pumping (impl/vhost/target.cc).
  long send_some(std::span<const uint8_t> bytes, std::span<const int> fds);

  struct ReceivedFd {
    FdKind kind = FdKind::Other;
    std::string target;  // readlink text, e.g. "anon_inode:[userfaultfd]"
    UniqueFd fd;         // open only if the caller asked to keep fds
  };
  struct Reply {
    wire::Header hdr;
    std::vector<uint8_t> payload;
    std::vector<ReceivedFd> fds;
    // The payload as a u64 when it is exactly 8 bytes.
    std::optional<uint64_t> u64() const;
  };
  enum class Recv : uint8_t {
    kReply,      // `out` holds one reply
    kTimeout,    // nothing complete within the timeout (0: just what is already there)
    kClosed,     // EOF: the back-end closed the connection (this end is closed too)
    kMalformed,  // oversize frame or more than 8 fds; the connection is closed
  };
  // Waits up to timeout_ms (0 = do not wait, -1 = forever) for one complete reply.
  Recv recv(Reply& out, int timeout_ms, bool keep_fds = false);

 private:
  UniqueFd sock_;
  wire::MessageReader reader_{uapi::kMaxPayload};
};

const char* to_string(Frontend::Recv r);

}  // namespace lockstep::vhost
