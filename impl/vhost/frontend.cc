#include "impl/vhost/frontend.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include <cstdio>
#include <cstring>

#include "core/fd_oracle.h"
#include "impl/sys.h"

namespace lockstep::vhost {

using namespace wire;  // this file never sees model/vhost's Message
using sys::kHarness;   // the front-end is the harness: its calls are never faulted
namespace {

const int g_proc_self_fd = sys::open(kHarness, "/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

int64_t now_ms() {
  timespec ts;
  sys::clock_gettime(kHarness, CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1000000;
}

// Fresh fds for `specs`, all or nothing.
bool make_fds(std::span<const FdSpec> specs, std::vector<UniqueFd>& owned, std::vector<int>& raw) {
  for (const FdSpec& spec : specs) {
    UniqueFd fd = make_fd(spec);
    if (!fd) return false;
    raw.push_back(fd.get());
    owned.push_back(std::move(fd));
  }
  return true;
}

}  // namespace

UniqueFd make_fd(const FdSpec& spec) {
  switch (spec.kind) {
    case FdKind::Eventfd:
      return UniqueFd(sys::eventfd(kHarness, 0, EFD_CLOEXEC | EFD_NONBLOCK));
    case FdKind::Memfd: {
      UniqueFd fd(sys::memfd_create(kHarness, "lockstep-region", MFD_CLOEXEC));
      if (fd && spec.size <= static_cast<uint64_t>(INT64_MAX))
        (void)sys::ftruncate(kHarness, fd.get(), static_cast<off_t>(spec.size));
      return fd;
    }
    case FdKind::File:
      return UniqueFd(sys::open(kHarness, "/dev/null", O_RDWR | O_CLOEXEC));
    case FdKind::Uffd:
      return UniqueFd(sys::userfaultfd(kHarness, O_CLOEXEC | O_NONBLOCK));
    case FdKind::Other:
      return UniqueFd(sys::socket(kHarness, AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  }
  errno = EINVAL;
  return UniqueFd();
}

FdKind classify_fd_target(std::string_view t) {
  if (t == "anon_inode:[userfaultfd]") return FdKind::Uffd;
  if (t == "anon_inode:[eventfd]") return FdKind::Eventfd;
  if (t.starts_with("/memfd:")) return FdKind::Memfd;
  if (t.starts_with("/")) return FdKind::File;
  return FdKind::Other;
}

FdKind classify_fd(int fd, std::string* target) {
  // readlinkat on /proc/self/fd, opened once at start-up (before any fd snapshot is taken, so
  // it is in all of them): about 4x cheaper than resolving "/proc/self/fd/N" every time.
  char name[16], link[256];
  std::snprintf(name, sizeof name, "%d", fd);
  const ssize_t n = g_proc_self_fd >= 0
                        ? sys::readlinkat(kHarness, g_proc_self_fd, name, link, sizeof link - 1)
                        : -1;
  std::string t = n >= 0 ? std::string(link, static_cast<size_t>(n)) : describe_fd(fd);
  const FdKind kind = classify_fd_target(t);
  if (target) *target = std::move(t);
  return kind;
}

Frontend::Frontend(UniqueFd sock) : sock_(std::move(sock)) {}

Frontend Frontend::connect(const std::string& path, int* err) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    if (err) *err = ENAMETOOLONG;
    return Frontend();
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  UniqueFd sock(sys::socket(kHarness, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sock ||
      sys::connect(kHarness, sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (err) *err = errno;
    return Frontend();
  }
  return Frontend(std::move(sock));
}

void Frontend::close() {
  reader_.reset();
  sock_.reset();
}

int Frontend::send(uint32_t request, uint32_t flags, std::span<const uint8_t> payload,
                   std::span<const FdSpec> fds, std::optional<uint32_t> size) {
  const Header h{request, flags, size ? *size : static_cast<uint32_t>(payload.size())};
  return send_raw(frame(h, payload), fds);
}

int Frontend::send(const Send& op) {
  return send(op.request, op.flags, op.payload, op.fds, op.size);
}

int Frontend::send_raw(std::span<const uint8_t> bytes, std::span<const FdSpec> fds) {
  std::vector<UniqueFd> owned;  // closed when this returns: the receiver has its own copies
  std::vector<int> raw;
  if (!make_fds(fds, owned, raw)) return -errno;
  return send_raw_fds(bytes, raw);
}

int Frontend::send_raw_fds(std::span<const uint8_t> bytes, std::span<const int> fds) {
  if (!connected()) return -ENOTCONN;
  if (bytes.empty()) return fds.empty() ? 0 : -EINVAL;
  return send_all(sock_.get(), bytes, fds);
}

long Frontend::send_some(std::span<const uint8_t> bytes, std::span<const int> fds) {
  if (!connected()) return -ENOTCONN;
  return vhost::send_some(sock_.get(), bytes, fds, /*dontwait=*/true);
}

std::optional<uint64_t> Frontend::Reply::u64() const {
  if (payload.size() != sizeof(uint64_t)) return std::nullopt;
  uint64_t v;
  std::memcpy(&v, payload.data(), sizeof v);
  return v;
}

Frontend::Recv Frontend::recv(Reply& out, int timeout_ms, bool keep_fds) {
  const int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
  for (;;) {
    if (!connected()) return Recv::kClosed;
    Message m;
    switch (reader_.read(sock_.get(), m)) {
      case MessageReader::Status::kMessage: {
        out.hdr = m.hdr;
        out.payload = std::move(m.payload);
        out.fds.clear();
        for (UniqueFd& fd : m.fds) {
          ReceivedFd r;
          r.kind = classify_fd(fd.get(), &r.target);
          if (keep_fds) r.fd = std::move(fd);
          out.fds.push_back(std::move(r));
        }
        return Recv::kReply;  // fds not kept are closed with `m`
      }
      case MessageReader::Status::kWouldBlock:
        break;
      case MessageReader::Status::kClosed:
      case MessageReader::Status::kError:
        close();
        return Recv::kClosed;
      default:
        close();
        return Recv::kMalformed;
    }
    int wait = -1;
    if (deadline >= 0) {
      const int64_t left = deadline - now_ms();
      if (left <= 0) return Recv::kTimeout;
      wait = static_cast<int>(left);
    }
    pollfd p{sock_.get(), POLLIN, 0};
    const int n = sys::poll(kHarness, &p, 1, wait);
    if (n == 0) return Recv::kTimeout;
    if (n < 0 && errno != EINTR) return Recv::kTimeout;
  }
}

const char* to_string(Frontend::Recv r) {
  switch (r) {
    case Frontend::Recv::kReply:
      return "reply";
    case Frontend::Recv::kTimeout:
      return "timeout";
    case Frontend::Recv::kClosed:
      return "closed";
    case Frontend::Recv::kMalformed:
      return "malformed";
  }
  return "?";
}

}  // namespace lockstep::vhost
