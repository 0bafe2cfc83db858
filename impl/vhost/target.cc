#include "impl/vhost/target.h"

#include <errno.h>
#include <poll.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "core/overloaded.h"
#include "impl/sys.h"

namespace lockstep::vhost {

using namespace wire;  // this file never sees model/vhost's Message
namespace {

BackendOptions options_for(std::string_view profile, int mutant) {
  std::optional<BackendOptions> o = backend_options(profile);
  if (!o)
    throw std::invalid_argument("lockstep: impl/vhost has no profile '" + std::string(profile) +
                                "'");
  if (mutant < 0 || mutant >= static_cast<int>(Mutant::END))
    throw std::invalid_argument("lockstep: impl/vhost has no mutant " + std::to_string(mutant));
  if (mutant) o->mutant = static_cast<Mutant>(mutant);
  return *o;
}

// Data (or EOF) waits on the back-end's socket: what an event loop's poll would wake it for.
bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return sys::poll(sys::kHarness, &p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP));
}

uint8_t clamp8(int v) {
  return static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
}

}  // namespace

ImplTarget::ImplTarget(std::string_view profile, int mutant)
    : options_(options_for(profile, mutant)) {}

ImplTarget::~ImplTarget() {
  finish();
}

void ImplTarget::connect() {
  auto [front, back] = stream_socketpair();
  if (!front || !back) throw std::runtime_error("lockstep: socketpair failed");
  FdClass cls;
  identify_fd(front.get(), front_id_, cls);
  identify_fd(back.get(), back_id_, cls);
  fe_ = Frontend(std::move(front));
  be_ = std::make_unique<Backend>(std::move(back), options_);
  replies_read_ = 0;
}

void ImplTarget::adopt_leaked() {
  if (!be_) return;
  for (UniqueFd& fd : be_->take_leaked()) leaked_.push_back(std::move(fd));
}

void ImplTarget::disconnect() {
  fe_.close();
  if (!be_) return;
  be_->handle_readable();  // EOF: D1
  be_->disconnect("front-end gone");
  adopt_leaked();
}

Outcome ImplTarget::step(const Op& op) {
  if (!started_) {
    started_ = true;
    census_.take(FdCensus::kFromLowestFree);
    floor_ = census_.lowest_free();
    baseline_ = census_.entries();
    connect();
  }
  Outcome out;
  std::visit(Overloaded{
                 [&](const Send& s) {
                   const Header h{s.request, s.flags, s.header_size()};
                   transmit(frame(h, s.payload), s.fds, out);
                 },
                 [&](const RawBytes& r) { transmit(r.bytes, {}, out); },
                 [&](const Disconnect&) { disconnect(); },
                 [&](const Connect&) {
                   disconnect();
                   connect();
                 },
                 [&](const FailNext& f) {
                   if (be_ && be_->connected()) be_->fail_next(f.site, f.err);
                 },
             },
             op);
  out.closed = !fe_.connected() || !be_ || !be_->connected();
  if (be_) {
    const Backend::Stats s = be_->stats();
    out.res.regions_mapped = clamp8(s.regions_mapped);
    out.res.regions_registered = clamp8(s.regions_registered);
    out.res.phase = s.phase;
  }
  count_fds(out.res);
  return out;
}

// The back-end side's fds, by census: every fd open now that was not open before the trace,
// except the front-end's socket end and, while the back-end says it is connected, its own.
// Leaked fds count: the spec leaks none, so a leak shows at the op that made it.
void ImplTarget::count_fds(Resources& res) {
  census_.take(floor_);
  const bool back_connected = be_ && be_->connected();
  int uffds = 0, held = 0;
  for (const FdEntry& e : census_.entries()) {
    if (e.id == front_id_ || (back_connected && e.id == back_id_)) continue;
    if (std::any_of(baseline_.begin(), baseline_.end(),
                    [&](const FdEntry& b) { return b.fd == e.fd && b.id == e.id; }))
      continue;
    ++held;
    uffds += e.cls == FdClass::Uffd;
  }
  res.uffds = clamp8(uffds);
  res.held_fds = clamp8(held);
}

void ImplTarget::transmit(std::span<const uint8_t> bytes, std::span<const FdSpec> specs,
                          Outcome& out) {
  if (!fe_.connected() || bytes.empty()) return;
  std::vector<UniqueFd> owned;  // our copies: closed when this returns
  std::vector<int> fds;
  for (const FdSpec& spec : specs) {
    UniqueFd fd = make_fd(spec);
    if (!fd) throw std::runtime_error("lockstep: cannot create a " + to_string(spec.kind));
    fds.push_back(fd.get());
    owned.push_back(std::move(fd));
  }
  size_t off = 0;
  while (off < bytes.size()) {
    const long n = fe_.send_some(bytes.subspan(off),
                                 off == 0 ? std::span<const int>(fds) : std::span<const int>());
    if (n == -EAGAIN) {  // the back-end's queue is full: let it run, then go on
      pump(out);
      continue;
    }
    if (n < 0) break;  // EPIPE / ECONNRESET: the back-end has closed the connection
    off += static_cast<size_t>(n);
  }
  pump(out);
}

// Runs the back-end until it has processed everything that arrived, draining its replies. As
// an event loop would, it wakes the back-end again while output is pending or input waits (an
// EAGAIN from recvmsg leaves the message in the socket: rule F2).
void ImplTarget::pump(Outcome& out) {
  if (!be_) return;
  for (;;) {
    be_->handle_readable();
    drain(out);
    if (!be_->connected()) return;
    if (!be_->output_pending() && !readable(be_->socket_fd())) return;
  }
}

void ImplTarget::drain(Outcome& out) {
  // While the back-end is up, read exactly the replies it has sent (no would-block read); once
  // it has closed, read to EOF.
  Frontend::Reply r;
  while ((!be_->connected() || replies_read_ < be_->replies_sent()) &&
         fe_.recv(r, 0) == Frontend::Recv::kReply) {
    ++replies_read_;
    Reply reply;
    reply.request = r.hdr.request;
    reply.flags = r.hdr.flags;
    reply.size = r.hdr.size;
    reply.payload = std::move(r.payload);
    for (const auto& fd : r.fds) reply.fds.push_back(fd.kind);
    normalise(reply);
    out.replies.push_back(std::move(reply));
  }
  if (!be_->connected()) fe_.close();  // the front-end sees EOF and closes its end too
}

void ImplTarget::finish() {
  if (be_) disconnect();
  be_.reset();
  fe_.close();
  started_ = false;
}

void ImplTarget::reap() {
  leaked_.clear();
}

}  // namespace lockstep::vhost
