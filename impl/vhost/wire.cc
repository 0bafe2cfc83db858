#include "impl/vhost/wire.h"

#include <errno.h>
#include <sys/socket.h>

#include <cstring>

#include "impl/sys.h"

namespace lockstep::vhost {
namespace {

// The kernel's SCM_MAX_FD: the most fds one sendmsg can carry.
constexpr size_t kScmMaxFd = 253;

// One recvmsg into buf[0..len) with MSG_DONTWAIT | MSG_CMSG_CLOEXEC. Every fd that arrives is
// appended to `fds` (owned) before anything else is looked at. Returns bytes read, 0 at EOF, or
// -errno; `ctrunc` reports MSG_CTRUNC (fds the control buffer could not hold were dropped).
long recv_some(int sock, uint8_t* buf, size_t len, std::vector<UniqueFd>& fds, bool& ctrunc) {
  iovec iov{buf, len};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * uapi::kMaxFds)];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = sys::recvmsg(sys::at(Site::Recvmsg), sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);  // F2: EINTR is retried
  if (n < 0) return -errno;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      fds.emplace_back(fd);
    }
  }
  ctrunc = (msg.msg_flags & MSG_CTRUNC) != 0;
  return n;
}

}  // namespace

void UniqueFd::reset(int fd) {
  const int old = std::exchange(fd_, fd);
  if (old >= 0) sys::close(sys::at(Site::Close), old);  // F3: freed whatever close reports
}

std::pair<UniqueFd, UniqueFd> stream_socketpair() {
  int sv[2];
  if (sys::socketpair(sys::kHarness, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return {};
  return {UniqueFd(sv[0]), UniqueFd(sv[1])};
}

namespace wire {

uint64_t Message::u64(uint64_t fallback) const {
  if (payload.size() != sizeof(uint64_t)) return fallback;
  uint64_t v;
  std::memcpy(&v, payload.data(), sizeof v);
  return v;
}

std::vector<uint8_t> frame(const Header& hdr, std::span<const uint8_t> payload) {
  std::vector<uint8_t> out(sizeof hdr + payload.size());
  std::memcpy(out.data(), &hdr, sizeof hdr);
  if (!payload.empty()) std::memcpy(out.data() + sizeof hdr, payload.data(), payload.size());
  return out;
}

long send_some(int sock, std::span<const uint8_t> bytes, std::span<const int> fds, bool dontwait) {
  if (fds.size() > kScmMaxFd || (bytes.empty() && !fds.empty())) return -EINVAL;
  iovec iov{const_cast<uint8_t*>(bytes.data()), bytes.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kScmMaxFd)];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (!fds.empty()) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  ssize_t n;
  do {
    n = sys::sendmsg(sys::at(Site::Sendmsg), sock, &msg,
                     MSG_NOSIGNAL | (dontwait ? MSG_DONTWAIT : 0));
  } while (n < 0 && errno == EINTR);  // F2: EINTR is retried
  return n < 0 ? -errno : n;
}

int send_all(int sock, std::span<const uint8_t> bytes, std::span<const int> fds) {
  size_t off = 0;
  do {
    long n = send_some(sock, bytes.subspan(off), off == 0 ? fds : std::span<const int>{}, false);
    if (n < 0) return static_cast<int>(n);
    off += static_cast<size_t>(n);
  } while (off < bytes.size());
  return 0;
}

MessageReader::Status MessageReader::fail(Status status) {
  reset();
  return status;
}

void MessageReader::reset() {
  have_ = 0;
  payload_.clear();
  fds_.clear();  // closes them
}

MessageReader::Status MessageReader::read(int sock, Message& out) {
  for (;;) {
    const bool in_header = have_ < uapi::kHeaderSize;
    if (!in_header && have_ == uapi::kHeaderSize + hdr_.size) {
      out.hdr = hdr_;
      out.payload = std::move(payload_);
      out.fds = std::move(fds_);
      payload_.clear();
      fds_.clear();
      have_ = 0;
      return Status::kMessage;
    }
    uint8_t* dst = in_header ? hdr_bytes_ + have_ : payload_.data() + (have_ - uapi::kHeaderSize);
    const size_t want =
        in_header ? uapi::kHeaderSize - have_ : uapi::kHeaderSize + hdr_.size - have_;
    bool ctrunc = false;
    const long n = recv_some(sock, dst, want, fds_, ctrunc);
    if (ctrunc || fds_.size() > uapi::kMaxFds) return fail(Status::kTooManyFds);  // W5
    if (n == -EAGAIN || n == -EWOULDBLOCK) return Status::kWouldBlock;
    if (n < 0) {
      last_errno_ = static_cast<int>(-n);
      return fail(Status::kError);
    }
    if (n == 0) return fail(Status::kClosed);
    have_ += static_cast<size_t>(n);
    if (in_header && have_ == uapi::kHeaderSize) {
      std::memcpy(&hdr_, hdr_bytes_, sizeof hdr_);
      if (hdr_.size > max_payload_) return fail(Status::kOversize);  // W3
      if (check_ && !check_(hdr_)) return fail(Status::kBadHeader);  // W2
      payload_.resize(hdr_.size);
    }
  }
}

const char* to_string(MessageReader::Status status) {
  switch (status) {
    case MessageReader::Status::kMessage:
      return "message";
    case MessageReader::Status::kWouldBlock:
      return "would-block";
    case MessageReader::Status::kClosed:
      return "eof";
    case MessageReader::Status::kError:
      return "recv-error";
    case MessageReader::Status::kBadHeader:
      return "bad-header";
    case MessageReader::Status::kOversize:
      return "oversize";
    case MessageReader::Status::kTooManyFds:
      return "too-many-fds";
  }
  return "?";
}

}  // namespace wire
}  // namespace lockstep::vhost
