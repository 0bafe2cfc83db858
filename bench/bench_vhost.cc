// vhost-user figures (README "Figures"):
//  - differential exec/s: model + our back-end over a socketpair (real SCM_RIGHTS, real
//    userfaultfd, memfd regions) + the fd-accounting oracle, exactly what fuzz_vhost_postcopy
//    runs per input, over random inputs of at most 32 ops;
//  - the same traces as bare syscalls: per message the fds it carries are created, the frame
//    goes through sendmsg/recvmsg on a socketpair and the fds are closed; ADVISE also opens a
//    userfaultfd (UFFDIO_API) and passes it back; SET_MEM_TABLE maps and unmaps its regions;
//  - back-end messages/s on a fixed mixed stream (negotiation, postcopy handshake, ring fds).
// Prints the first two and their ratio in one run.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <vector>

#include "bench/ratio_main.h"
#include "core/run.h"
#include "core/vhost/codec.h"
#include "impl/vhost/backend.h"
#include "impl/vhost/frontend.h"
#include "impl/vhost/target.h"
#include "model/vhost/model.h"

namespace {

using namespace lockstep::vhost;

const std::vector<Trace>& traces() {
  static const std::vector<Trace> all = lockstep::bench::random_traces(
      [](std::span<const uint8_t> bytes, size_t max_ops) { return decode_input(bytes, max_ops); });
  return all;
}

void BM_Differential(benchmark::State& state) {
  size_t i = 0;
  for (auto _ : state) {
    const Trace& trace = traces()[i++ % traces().size()];
    Model model(*find_profile(trace.profile));
    ImplTarget target(trace.profile);
    auto verdict =
        lockstep::run<Protocol>(trace.ops, model, target, {.check_fds = true, .record = false});
    if (!verdict.ok()) state.SkipWithError(verdict.divergence->signature.c_str());
  }
  state.SetItemsProcessed(state.iterations());
}

int bare_fd(const FdSpec& spec) {
  switch (spec.kind) {
    case FdKind::Memfd: {
      int fd = ::memfd_create("bare-region", MFD_CLOEXEC);
      ::ftruncate(fd, static_cast<off_t>(spec.size));
      return fd;
    }
    case FdKind::Eventfd:
      return ::eventfd(0, EFD_CLOEXEC);
    default:
      return ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  }
}

// One message through a socketpair with its fds; returns the fds as received.
std::vector<int> pass(int from, int to, const void* bytes, size_t len,
                      const std::vector<int>& fds) {
  alignas(cmsghdr) char control[CMSG_SPACE(64 * sizeof(int))] = {};  // traces attach up to 64 fds
  iovec iov{const_cast<void*>(bytes), len};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (!fds.empty()) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(fds.size() * sizeof(int));
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(fds.size() * sizeof(int));
    std::memcpy(CMSG_DATA(c), fds.data(), fds.size() * sizeof(int));
  }
  ::sendmsg(from, &msg, MSG_NOSIGNAL);
  char buf[4096 + 12];
  iovec in{buf, sizeof buf};
  msghdr r{};
  r.msg_iov = &in;
  r.msg_iovlen = 1;
  r.msg_control = control;
  r.msg_controllen = sizeof control;
  ::recvmsg(to, &r, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);  // a failed sendmsg must not block us
  std::vector<int> got;
  for (cmsghdr* c = CMSG_FIRSTHDR(&r); c; c = CMSG_NXTHDR(&r, c)) {
    size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    got.resize(n);
    std::memcpy(got.data(), CMSG_DATA(c), n * sizeof(int));
  }
  return got;
}

void bare_message(int front, int back, const Send& s) {
  std::vector<uint8_t> frame(12 + s.payload.size());
  uint32_t header[3] = {s.request, s.flags, s.header_size()};
  std::memcpy(frame.data(), header, 12);
  std::memcpy(frame.data() + 12, s.payload.data(), s.payload.size());
  std::vector<int> fds;
  for (const FdSpec& spec : s.fds) fds.push_back(bare_fd(spec));
  std::vector<int> received = pass(front, back, frame.data(), frame.size(), fds);
  for (int fd : fds) ::close(fd);
  if (s.request == 5)  // SET_MEM_TABLE: map and unmap each region
    for (int fd : received) {
      void* p = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      if (p != MAP_FAILED) ::munmap(p, 4096);
    }
  for (int fd : received) ::close(fd);
  if (s.request == 28) {  // ADVISE: a real userfaultfd goes back to the front-end
    int uffd = static_cast<int>(::syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK));
    uffdio_api api{UFFD_API, 0, 0};
    ::ioctl(uffd, UFFDIO_API, &api);
    for (int fd : pass(back, front, header, 12, {uffd})) ::close(fd);
    ::close(uffd);
  }
}

void BM_BareSyscalls(benchmark::State& state) {
  size_t i = 0;
  for (auto _ : state) {
    const Trace& trace = traces()[i++ % traces().size()];
    int sv[2];
    ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
    for (const Op& op : trace.ops)
      if (const Send* s = std::get_if<Send>(&op)) bare_message(sv[0], sv[1], *s);
    ::close(sv[0]);
    ::close(sv[1]);
  }
  state.SetItemsProcessed(state.iterations());
}

// A fixed stream: QEMU's negotiation preamble, then ADVISE / LISTEN / END and ring-fd updates.
std::vector<Send> mixed_stream() {
  std::vector<Send> out;
  for (const Op& op : preamble())
    if (const Send* s = std::get_if<Send>(&op)) out.push_back(*s);
  out.push_back(Send{uapi::kPostcopyAdvise, uapi::kVersion, {}, {}, {}});
  out.push_back(Send{uapi::kPostcopyListen, uapi::kVersion | uapi::kNeedReply, {}, {}, {}});
  std::vector<uint8_t> ring0(8, 0);
  out.push_back(Send{uapi::kSetVringCall, uapi::kVersion, ring0, {FdSpec{FdKind::Eventfd, 0}}, {}});
  out.push_back(Send{uapi::kGetFeatures, uapi::kVersion, {}, {}, {}});
  out.push_back(Send{uapi::kPostcopyEnd, uapi::kVersion | uapi::kNeedReply, {}, {}, {}});
  return out;
}

void BM_BackendMessages(benchmark::State& state) {
  const std::vector<Send> stream = mixed_stream();
  size_t messages = 0;
  for (auto _ : state) {
    auto [front_end, back_end] = lockstep::vhost::stream_socketpair();
    Backend backend(std::move(back_end));
    Frontend front(std::move(front_end));
    Frontend::Reply reply;
    for (const Send& s : stream) {
      front.send(s);
      backend.handle_readable();
      while (front.recv(reply, 0) == Frontend::Recv::kReply) {
      }
      ++messages;
    }
  }
  state.counters["messages/s"] =
      benchmark::Counter(static_cast<double>(messages), benchmark::Counter::kIsRate);
}

BENCHMARK(BM_Differential)->MinTime(3.0);
BENCHMARK(BM_BareSyscalls)->MinTime(3.0);
BENCHMARK(BM_BackendMessages)->MinTime(3.0);

}  // namespace

int main(int argc, char** argv) {
  return lockstep::bench::ratio_main(argc, argv, "vhost");
}
