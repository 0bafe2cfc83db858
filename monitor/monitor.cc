#include "monitor/monitor.h"

#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <iostream>
#include <random>
#include <thread>

#include "impl/vhost/frontend.h"
#include "impl/vhost/wire.h"
#include "model/vhost/model.h"
#include "monitor/frontend_rules.h"
#include "monitor/session.h"

namespace lockstep::monitor {

using namespace vhost;
using Clock = std::chrono::steady_clock;

namespace {

// Messages above the back-end's 4096 (W3) are still forwarded: the monitor judges, it does
// not filter. Above this the stream cannot be followed.
constexpr uint32_t kMaxForwarded = 65535;

struct Environment : std::runtime_error {
  using std::runtime_error::runtime_error;
};

sockaddr_un address(const std::string& path, const char* option) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path)
    throw std::invalid_argument(std::string(option) + " " + path + ": a socket path is 1.." +
                                std::to_string(sizeof addr.sun_path - 1) + " bytes");
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  return addr;
}

// The front-end's socket: a stale socket file is replaced, anything else at the path is an
// environment error.
UniqueFd listen_on(const std::string& path) {
  sockaddr_un addr = address(path, "--listen");
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) throw Environment("--listen " + path + ": exists, not a socket");
    ::unlink(path.c_str());
  }
  UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sock || ::bind(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(sock.get(), 1) != 0)
    throw Environment("--listen " + path + ": " + std::strerror(errno));
  return sock;
}

UniqueFd connect_to(const std::string& path) {
  sockaddr_un addr = address(path, "--connect");
  UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sock || ::connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    throw Environment("--connect " + path + ": " + std::strerror(errno));
  return sock;
}

// SIGINT and SIGTERM end the session (recorded and reported like any other end).
UniqueFd signal_fd() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  return UniqueFd(::signalfd(-1, &set, SFD_CLOEXEC));
}

// The op a front-end message is in the trace vocabulary. A socket or other fd the trace cannot
// create (SET_BACKEND_REQ_FD's socket) is written as a plain file, which every back-end rule
// treats alike (held, one fd), and said so in `note`.
Send to_send(const wire::Message& m, std::string& note) {
  Send s;
  s.request = m.hdr.request;
  s.flags = m.hdr.flags;
  s.payload = m.payload;
  for (const UniqueFd& fd : m.fds) {
    FdKind kind = classify_fd(fd.get());
    struct stat st {};
    if (kind == FdKind::Memfd && ::fstat(fd.get(), &st) == 0)
      s.fds.push_back({FdKind::Memfd, static_cast<uint64_t>(st.st_size)});
    else if (kind == FdKind::Eventfd)
      s.fds.push_back({FdKind::Eventfd, 0});
    else {
      if (kind != FdKind::File) note = "an fd of kind " + to_string(kind) + " written as file";
      s.fds.push_back({FdKind::File, 0});
    }
  }
  return s;
}

Reply to_reply(const wire::Message& m) {
  Reply r;
  r.request = m.hdr.request;
  r.flags = m.hdr.flags;
  r.size = m.hdr.size;
  r.payload = m.payload;
  for (const UniqueFd& fd : m.fds) r.fds.push_back(classify_fd(fd.get()));
  return r;
}

WireMessage logged(Side from, size_t index, double ms, const wire::Message& m,
                   const std::vector<FdKind>& kinds) {
  return {from, index, ms, m.hdr.request, m.hdr.flags, m.hdr.size, kinds, m.payload};
}

// A piece of a back-end message on its way to the front-end.
struct Piece {
  Clock::time_point due;
  std::vector<uint8_t> bytes;
  std::vector<UniqueFd> fds;   // with the first piece
  std::optional<Reply> whole;  // on the last piece: the message, for the front-end's rules
};

class Proxy {
 public:
  Proxy(const MonitorOptions& o, UniqueFd fe, UniqueFd be, UniqueFd sig)
      : o_(o),
        model_(*find_profile(o.profile)),
        session_(o.profile),
        fe_(std::move(fe)),
        be_(std::move(be)),
        sig_(std::move(sig)),
        rng_(o.perturb.value_or(0)) {}
  void run();
  Session& session() { return session_; }

 private:
  void on_frontend(wire::Message m);
  void on_backend(wire::Message m);
  void check_reply(size_t index, const Reply& seen);
  void frontend_closed();
  void backend_closed();
  void schedule(wire::Message m, Reply whole);
  void flush();
  int timeout_ms() const;
  bool read_side(Side side);
  void report(Side side, std::string rule, size_t index, std::string text);
  std::string op_at(size_t index) const;

  const MonitorOptions& o_;
  Model model_;
  FrontendRules rules_;
  Session session_;
  UniqueFd fe_, be_, sig_;
  wire::MessageReader fe_reader_{kMaxForwarded}, be_reader_{kMaxForwarded};
  std::mt19937_64 rng_;
  struct Expected {
    size_t index;
    Reply reply;
  };
  std::deque<Expected> expected_;   // the model's replies not yet matched, oldest first
  std::deque<Piece> out_;           // towards the front-end, in order
  std::vector<std::string> names_;  // request name per message
  bool model_closed_ = false, reported_closed_ = false;
  size_t model_closed_at_ = 0;  // the message after which the model closed
  bool fe_open_ = true, be_open_ = true;
  std::optional<Clock::time_point> drain_until_;
};

std::string Proxy::op_at(size_t index) const {
  return index >= 1 && index <= names_.size() ? names_[index - 1] : "";
}

void Proxy::report(Side side, std::string rule, size_t index, std::string text) {
  Violation v{side, std::move(rule), index, op_at(index), std::move(text)};
  if (o_.perturb) v.text += " (perturb seed " + std::to_string(*o_.perturb) + ")";
  std::cerr << violation_line(v) << "\n";
  session_.add_violation(v);
  std::cerr << "---- session so far ----\n" << session_.program() << "----\n" << std::flush;
}

void Proxy::on_frontend(wire::Message m) {
  std::string note;
  Send op = to_send(m, note);
  std::vector<int> raw;
  for (const UniqueFd& fd : m.fds) raw.push_back(fd.get());
  // Forward first: the front-end's latency is the monitor's cost; the checks follow.
  if (be_open_ && wire::send_all(be_.get(), wire::frame(m.hdr, m.payload), raw) != 0)
    be_open_ = false;
  const size_t index = session_.add_request(op, note);
  names_.push_back(request_text(op.request));
  std::vector<FdKind> kinds;
  for (const FdSpec& f : op.fds) kinds.push_back(f.kind);
  session_.log(logged(Side::Frontend, index, session_.elapsed_ms(), m, kinds));
  for (Finding& f : rules_.on_request(op, index))
    report(Side::Frontend, std::move(f.rule), index, std::move(f.text));
  const bool was_closed = model_closed_;
  Outcome predicted = model_.step(op);
  for (Reply& r : predicted.replies) expected_.push_back({index, std::move(r)});
  if (predicted.closed && !was_closed) model_closed_at_ = index;
  model_closed_ = model_closed_ || (predicted.closed && !was_closed);
}

// A back-end message answers the oldest request whose predicted replies are not all in.
void Proxy::check_reply(size_t index, const Reply& seen) {
  if (model_closed_ && expected_.empty()) {
    if (!std::exchange(reported_closed_, true))
      report(Side::Backend, "model:closed", index,
             "the back-end goes on (" + to_string(seen) + "); the model (" + o_.profile +
                 ") closed the connection at message " + std::to_string(model_closed_at_));
    return;
  }
  if (expected_.empty()) {
    report(Side::Backend, "model:reply.count", index,
           "reply " + to_string(seen) + " where the model (" + o_.profile + ") sends none");
    return;
  }
  Expected e = std::move(expected_.front());
  expected_.pop_front();
  Outcome want, got;
  want.replies = {e.reply};
  got.replies = {seen};
  if (const char* field = first_wire_difference(want, got))
    report(Side::Backend, std::string("model:") + field, e.index,
           "the back-end sent " + to_string(seen) + ", the model (" + o_.profile + ") says " +
               to_string(e.reply));
}

void Proxy::on_backend(wire::Message m) {
  Reply whole = to_reply(m);
  Reply seen = whole;
  normalise(seen);
  const size_t index = expected_.empty() ? session_.size() : expected_.front().index;
  session_.log(logged(Side::Backend, index, session_.elapsed_ms(), m, whole.fds));
  session_.add_reply(index, seen);
  check_reply(index, seen);
  if (fe_open_) schedule(std::move(m), std::move(whole));
}

// Unperturbed: one piece, due now. Perturbed: a delay of 0..kMaxDelayMs after the previous
// piece (order is kept), and every other message cut in two or three pieces.
void Proxy::schedule(wire::Message m, Reply whole) {
  std::vector<uint8_t> bytes = wire::frame(m.hdr, m.payload);
  Clock::time_point due = Clock::now();
  if (!out_.empty()) due = std::max(due, out_.back().due);
  std::vector<size_t> cuts;
  if (o_.perturb) {
    due += std::chrono::milliseconds(rng_() % (kMaxDelayMs + 1));
    const size_t pieces = rng_() % 2 ? 1 + rng_() % 2 : 0;
    for (size_t i = 0; i < pieces && bytes.size() > 1; ++i)
      cuts.push_back(1 + rng_() % (bytes.size() - 1));
    std::sort(cuts.begin(), cuts.end());
    cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  }
  cuts.push_back(bytes.size());
  size_t from = 0;
  for (size_t i = 0; i < cuts.size(); ++i) {
    Piece p{due, {bytes.begin() + from, bytes.begin() + cuts[i]}, {}, std::nullopt};
    if (i == 0) p.fds = std::move(m.fds);
    if (i + 1 == cuts.size()) p.whole = std::move(whole);
    out_.push_back(std::move(p));
    from = cuts[i];
    if (o_.perturb) due += std::chrono::milliseconds(rng_() % (kMaxPieceGapMs + 1));
  }
  flush();
}

void Proxy::flush() {
  while (!out_.empty() && out_.front().due <= Clock::now()) {
    Piece p = std::move(out_.front());
    out_.pop_front();
    if (!fe_open_) continue;
    std::vector<int> raw;
    for (const UniqueFd& fd : p.fds) raw.push_back(fd.get());
    if (wire::send_all(fe_.get(), p.bytes, raw) != 0) {
      frontend_closed();
      continue;
    }
    if (p.whole) rules_.on_reply_forwarded(*p.whole);
  }
}

int Proxy::timeout_ms() const {
  Clock::time_point next = Clock::time_point::max();
  if (!out_.empty()) next = out_.front().due;
  if (drain_until_) next = std::min(next, *drain_until_);
  if (next == Clock::time_point::max()) return -1;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(next - Clock::now()).count();
  return static_cast<int>(std::max<long long>(0, ms + 1));
}

// The front-end has gone: the back-end gets EOF and the chance to send what it still owes.
void Proxy::frontend_closed() {
  if (!fe_open_) return;
  fe_open_ = false;
  session_.add_disconnect();
  names_.push_back("DISCONNECT");
  model_.step(Disconnect{});
  out_.clear();
  if (be_open_) {
    ::shutdown(be_.get(), SHUT_WR);
    drain_until_ = Clock::now() + std::chrono::milliseconds(kDrainMs);
  }
}

void Proxy::backend_closed() {
  if (!be_open_) return;
  be_open_ = false;
  const size_t last = session_.size();
  if (fe_open_) {
    session_.mark_closed(last);
    if (!model_closed_)
      report(Side::Backend, "model:closed", last,
             "the back-end closed the connection; the model (" + o_.profile + ") keeps it open");
  }
  if (!expected_.empty() && !model_closed_)
    report(Side::Backend, "model:reply.count", expected_.front().index,
           "the back-end closed without " + std::to_string(expected_.size()) +
               " reply(s) the model (" + o_.profile + ") predicts, the first " +
               to_string(expected_.front().reply));
  expected_.clear();
}

// The rule a stream the monitor cannot follow breaks: more than 8 fds for one message (FE3 /
// the reply's fds), a size above what can be forwarded (FE2 / the reply's size). nullptr for an
// EOF or a receive error, which end the session without a violation.
const char* unfollowable(wire::MessageReader::Status status, bool frontend) {
  switch (status) {
    case wire::MessageReader::Status::kTooManyFds:
      return frontend ? "FE3" : "model:reply.fds";
    case wire::MessageReader::Status::kOversize:
      return frontend ? "FE2" : "model:reply.size";
    default:
      return nullptr;
  }
}

// Reads every complete message `side` has sent; false once that side has closed.
bool Proxy::read_side(Side side) {
  const bool fe = side == Side::Frontend;
  for (;;) {
    wire::Message m;
    auto status = (fe ? fe_reader_ : be_reader_).read((fe ? fe_ : be_).get(), m);
    if (status == wire::MessageReader::Status::kMessage) {
      fe ? on_frontend(std::move(m)) : on_backend(std::move(m));
      continue;
    }
    if (status == wire::MessageReader::Status::kWouldBlock) return true;
    if (const char* rule = unfollowable(status, fe))
      report(side, rule, session_.size(),
             std::string("the stream cannot be followed: ") + wire::to_string(status));
    fe ? frontend_closed() : backend_closed();
    return false;
  }
}

void Proxy::run() {
  UniqueFd ep(::epoll_create1(EPOLL_CLOEXEC));
  auto watch = [&](int fd) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    ::epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd, &ev);
  };
  watch(fe_.get());
  watch(be_.get());
  if (sig_) watch(sig_.get());
  while (be_open_ && (fe_open_ || drain_until_)) {
    epoll_event events[4];
    const int n = ::epoll_wait(ep.get(), events, 4, timeout_ms());
    if (n < 0 && errno != EINTR) break;
    bool fe_ready = false, be_ready = false;
    for (int i = 0; i < n; ++i) {
      if (events[i].data.fd == sig_.get()) {
        std::cerr << "lockstep monitor: signal: ending the session\n";
        return;
      }
      (events[i].data.fd == fe_.get() ? fe_ready : be_ready) = true;
    }
    // The back-end first: a reply and the front-end's next message that arrive together are
    // taken in the order that can only spare the front-end (FE8).
    if (be_ready && !read_side(Side::Backend))
      while (fe_open_ && !out_.empty()) {  // the last replies still reach the front-end
        std::this_thread::sleep_until(out_.front().due);
        flush();
      }
    flush();
    if (fe_open_ && fe_ready && !read_side(Side::Frontend))
      ::epoll_ctl(ep.get(), EPOLL_CTL_DEL, fe_.get(), nullptr);
    if (drain_until_ && Clock::now() >= *drain_until_) break;
  }
}

}  // namespace

MonitorResult run_monitor(const MonitorOptions& o) {
  MonitorResult result;
  if (!find_profile(o.profile)) {
    result.exit_code = 2;
    result.error = "--profile " + o.profile + ": no such vhost profile (lockstep profiles vhost)";
    return result;
  }
  try {
    address(o.listen, "--listen");  // both paths are usage errors before either is used
    address(o.connect, "--connect");
    UniqueFd be = connect_to(o.connect);
    UniqueFd listener = listen_on(o.listen);
    UniqueFd sig = signal_fd();
    std::cerr << "lockstep monitor: ready: listening on " << o.listen << ", back-end " << o.connect
              << ", profile " << o.profile;
    if (o.perturb) std::cerr << ", perturb seed " << *o.perturb;
    std::cerr << "\n" << std::flush;
    // Ctrl-C while no front-end has come is an ordinary end: no session, no violation.
    pollfd waiting[2] = {{listener.get(), POLLIN, 0}, {sig.get(), POLLIN, 0}};
    while (::poll(waiting, 2, -1) < 0 && errno == EINTR) {
    }
    if (waiting[1].revents) {
      std::cerr << "lockstep monitor: signal before any front-end connected\n";
      ::unlink(o.listen.c_str());
      result.session = Session(o.profile).json();
      return result;
    }
    UniqueFd fe(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!fe) throw Environment("--listen " + o.listen + ": accept: " + std::strerror(errno));
    listener.reset();
    ::unlink(o.listen.c_str());
    Proxy proxy(o, std::move(fe), std::move(be), std::move(sig));
    proxy.run();
    Session& s = proxy.session();
    result.exit_code = s.violations().empty() ? 0 : 1;
    result.session = s.json();
    std::cerr << "lockstep monitor: " << s.size() << " front-end messages, "
              << s.violations().size() << " violation(s)";
    if (o.perturb) std::cerr << ", perturb seed " << *o.perturb;
    std::cerr << "\n";
    if (!o.record.empty()) {
      if (std::string problem = s.record(o.record); !problem.empty())
        std::cerr << "lockstep monitor: --record: " << problem << "\n";
    }
  } catch (const Environment& e) {
    result.exit_code = 3;
    result.error = e.what();
  } catch (const std::invalid_argument& e) {
    result.exit_code = 2;
    result.error = e.what();
  }
  return result;
}

}  // namespace lockstep::monitor
