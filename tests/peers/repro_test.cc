// `lockstep repro` (tools/repro/): the reproducers compile alone with cc -std=c11 -Wall -Wextra
// -Werror, keep the documented exit codes, and against the real DPDK back-end (dpdk_vhost_peer,
// started by the shared BackendProcess) each committed DPDK finding
// (docs/peers/dpdk/defects/*.txt, the peer-defect entries of peers/dpdk/expectations.txt)
// reproduces: exit 1 with the deviation printed. The negative tests: a program on which DPDK
// does what the spec says exits 0, and the same program against a DPDK peer that leaks one fd
// per connection (--leak-fd-per-connection) exits 1 at the end-of-run fd count. Skips (with the
// reason) where dpdk_vhost_peer was not built or cannot start. The KVM reproducers: a program KVM
// agrees with exits 0, the documented CREATE_DEVICE_TEST copy-back deviation exits 1 (skips
// where /dev/kvm cannot be used).
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <thread>

#include "peers/dpdk/dpdk_campaign.h"
#include "peers/dpdk/dpdk_target.h"
#include "peers/kvm/kvm_campaign.h"
#include "peers/kvm/kvm_target.h"
#include "peers/libvhost-user/libvhost_user_campaign.h"
#include "tests/peers/backend_peer_test.h"
#include "tools/bindings.h"
#include "tools/repro/repro.h"

namespace lockstep::tools {
namespace {

namespace fs = std::filesystem;
using peers::dpdk::DpdkPeer;

struct Ran {
  int code = -1;
  std::string out;
};

// Runs a shell command, stdout and stderr together.
Ran run(const std::string& command) {
  Ran r;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) r.out.append(buf, n);
  const int st = ::pclose(p);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

// A directory for the generated files, removed when the test program ends.
const fs::path& scratch() {
  struct Dir {
    fs::path path;
    ~Dir() {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  };
  static const Dir dir{[] {
    char tmpl[] = "/tmp/lockstep-repro-test-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    return fs::path(tmpl);
  }()};
  return dir.path;
}

// A back-end process peer's reproducers: its profile and wire rules.
struct VhostPeer {
  const char* profile;
  peers::backend::WireRules wire;
};
constexpr VhostPeer kDpdk{"dpdk-22.11", peers::dpdk::kWire};
constexpr VhostPeer kLibvhostUser{"libvhost-user", peers::libvhost_user::kWire};

// The reproducer of `trace` for a peer, compiled with nothing but cc and libc: its binary.
std::string build(const vhost::Trace& trace, const std::string& name, const VhostPeer& peer) {
  const fs::path c = scratch() / (name + ".c"), bin = scratch() / name;
  std::ofstream(c) << vhost_reproducer(trace, peer.profile, name + ".txt",
                                       peer.wire.refused_at_header);
  const Ran cc = run("cc -std=c11 -Wall -Wextra -Werror -o " + bin.string() + " " + c.string());
  EXPECT_EQ(cc.code, 0) << name << ": " << cc.out;
  return bin.string();
}

std::string build(const vhost::Trace& trace, const std::string& name) {
  return build(trace, name, kDpdk);
}

// The committed programs of a peer's defects (docs/peers/<peer>/defects/*.txt).
std::vector<fs::path> defects(const std::string& peer) {
  std::vector<fs::path> out;
  for (const auto& e :
       fs::directory_iterator(fs::path(LOCKSTEP_SOURCE_DIR) / "docs/peers" / peer / "defects"))
    if (e.path().extension() == ".txt") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

vhost::Trace program_file(const fs::path& path) {
  std::ifstream in(path);
  return VhostBinding::parse(std::string((std::istreambuf_iterator<char>(in)), {}));
}

// A leak finding (its name says held_fds, uffds or fd-leak) must show in the final fd count.
void expect_leak_shown(const fs::path& path, const Ran& r) {
  const std::string name = path.stem().string();
  if (name.find("held_fds") == std::string::npos && name.find("uffds") == std::string::npos &&
      name != "fd-leak")
    return;
  static const std::regex leaked(
      "fds left open after the connection closed: [1-9][0-9]* \\(spec: 0\\)  DEVIATES");
  EXPECT_TRUE(std::regex_search(r.out, leaked)) << path << "\n" << r.out;
}

Ran against(const std::string& bin, const DpdkPeer& peer) {
  return run(bin + " " + peer.socket_path() + " " + std::to_string(peer.pid()));
}

using SharedPeer = peers::peer_tests::SharedPeer<DpdkPeer, peers::dpdk::DpdkTraits>;

// On which DPDK 22.11 and the spec agree at every op (docs/peers/dpdk.md: SET_OWNER is
// answered by neither; a well-formed ring state after it is taken silently).
constexpr const char* kAgreeing =
    "# lockstep vhost  profile=dpdk-22.11\n"
    "send(SET_OWNER)\n"
    "send(SET_VRING_NUM, ring=0, num=256)\n"
    "send(SET_VRING_BASE, ring=0, num=0)\n"
    "disconnect()\n";

// Every op kind the generator has an emitter for (fail_next excepted: refused before, no fault
// injection into a peer).
TEST(Repro, EveryOpKindCompilesAndKeepsTheExitCodes) {
  const vhost::Trace t = VhostBinding::parse(
      "# lockstep vhost  profile=dpdk-22.11\n"
      "send(SET_OWNER)\n"
      "send(SET_VRING_KICK, u64=0x0, fd=eventfd)\n"
      "send(SET_MEM_TABLE, region=0x0:0x100000:0x7f0000000000:0x0, fd=memfd:0x100000)\n"
      "send(SET_LOG_FD, flags=0x9, fd=file)\n"
      "raw(010000000100)\n"
      "disconnect()\n"
      "connect()\n");
  const std::string bin = build(t, "every_op_kind");
  EXPECT_EQ(run(bin).code, 2);                           // usage
  EXPECT_EQ(run(bin + " /nonexistent/sock x").code, 2);  // a pid that is not one
  const Ran absent = run(bin + " " + (scratch() / "no-such-socket").string());
  EXPECT_EQ(absent.code, 3) << absent.out;  // nothing to connect to
  EXPECT_NE(absent.out.find("cannot connect"), std::string::npos) << absent.out;
}

// The reply read is bounded: a back-end that answers the first barrier and then nothing is a
// deviation ("the back-end hangs", exit 1) after the 5 s reply timeout, not a wait.
TEST(Repro, AHangingBackEndIsADeviationNotAWait) {
  const std::string bin =
      build(VhostBinding::parse("# lockstep vhost  profile=dpdk-22.11\nsend(SET_OWNER)\n"), "hang");
  const std::string path = (scratch() / "hang.sock").string();
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
  const int l = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(l, 4), 0);
  std::thread backend([l] {  // answers one GET_FEATURES, then reads until the client closes
    const int c = ::accept(l, nullptr, nullptr);
    uint8_t header[12];
    if (::recv(c, header, sizeof header, MSG_WAITALL) == sizeof header) {
      const uint32_t reply[5] = {1, 5, 8, 0, 0};  // GET_FEATURES, VERSION|REPLY, size 8, u64 0
      (void)!::send(c, reply, sizeof reply, MSG_NOSIGNAL);
      for (char buf[64]; ::read(c, buf, sizeof buf) > 0;) {
      }
    }
    ::close(c);
  });
  const Ran r = run(bin + " " + path);
  backend.join();
  ::close(l);
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("no reply within 5000 ms: the back-end hangs"), std::string::npos) << r.out;
}

TEST(ReproDpdk, CommittedFindingsReproduce) {
  PEER_OR_SKIP(peer);
  const std::vector<fs::path> files = defects("dpdk");
  EXPECT_EQ(files.size(), 28u);
  for (const fs::path& path : files) {
    const Ran r = against(build(program_file(path), path.stem().string()), *peer);
    EXPECT_EQ(r.code, 1) << path << "\n" << r.out;
    EXPECT_NE(r.out.find("DEVIATES from the spec"), std::string::npos) << path << "\n" << r.out;
    EXPECT_NE(r.out.find("REPRODUCED"), std::string::npos) << path << "\n" << r.out;
    expect_leak_shown(path, r);
  }
}

// The postcopy path (the table reply awaited after LISTEN, its addresses normalised as the model
// writes them, the ack): QEMU's flow deviates from the spec only at the two feature offers, which
// the dpdk-22.11 profile documents.
TEST(ReproDpdk, PostcopyFlowDeviatesOnlyAtTheOffers) {
  PEER_OR_SKIP(peer);
  const fs::path path =
      fs::path(LOCKSTEP_SOURCE_DIR) / "corpus/programs/vhost_postcopy/postcopy_qemu_flow.txt";
  const Ran r = against(build(program_file(path), "postcopy_qemu_flow"), *peer);
  EXPECT_EQ(r.code, 1) << r.out;
  size_t deviations = 0;
  for (size_t at = 0; (at = r.out.find("DEVIATES", at)) != std::string::npos; ++at) ++deviations;
  EXPECT_EQ(deviations, 2u) << r.out;
  const size_t table = r.out.find("op 8 (line 9): send(SET_MEM_TABLE");
  ASSERT_NE(table, std::string::npos) << r.out;
  const std::string step = r.out.substr(table, r.out.find("op 9 ", table) - table);
  EXPECT_NE(step.find("back-end did:       SET_MEM_TABLE flags=0x5 size=72 payload=02"),
            std::string::npos)
      << step;
  EXPECT_NE(step.find("as the spec says"), std::string::npos) << step;
}

// The negative test: exit 1 is not unconditional.
TEST(ReproDpdk, AProgramDpdkAgreesOnExitsZero) {
  PEER_OR_SKIP(peer);
  const Ran r = against(build(VhostBinding::parse(kAgreeing), "agreeing"), *peer);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out.find("DEVIATES"), std::string::npos) << r.out;
}

// The end-of-run fd count fires: the agreeing program against a peer that leaks one fd per
// closed connection.
TEST(ReproDpdk, EndOfRunFdCountCatchesAPeerThatLeaks) {
  PEER_OR_SKIP(sound);  // where the sound peer cannot start, neither can the leaking one
  DpdkPeer leaky(peers::dpdk::default_peer_binary(), {"--leak-fd-per-connection"});
  const Ran r = against(build(VhostBinding::parse(kAgreeing), "agreeing_leaky"), leaky);
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("fds left open after the connection closed: 1 (spec: 0)  DEVIATES"),
            std::string::npos)
      << r.out;
}

// ---- libvhost-user (qemu-storage-daemon) ------------------------------------------------------

// The daemon serves one client at a time and the shared BackendProcess holds one (its standby):
// a crashed daemon is started again, and the standby is closed so the reproducer is served.
void hand_over(peers::backend::BackendProcess& peer) {
  if (!peer.alive()) peer.restart();
  peers::backend::FdCounts quiet;
  vhost::Frontend standby = peer.take_connection(&quiet);
  standby.close();
}

// Each crash and leak of docs/peers/libvhost-user.md reproduces; a crash says so.
TEST(ReproLibvhostUser, CommittedFindingsReproduceAndAgreeingProgramExitsZero) {
  const auto env = peers::libvhost_user::probe_environment();
  if (!env.unavailable.empty()) GTEST_SKIP() << env.unavailable;
  peers::libvhost_user::LibvhostUserPeer peer(env.binary);
  const std::vector<fs::path> files = defects("libvhost-user");
  EXPECT_EQ(files.size(), 39u);
  for (const fs::path& path : files) {
    const std::string bin = build(program_file(path), "lvu_" + path.stem().string(), kLibvhostUser);
    hand_over(peer);
    const Ran r = run(bin + " " + peer.socket_path() + " " + std::to_string(peer.pid()));
    EXPECT_EQ(r.code, 1) << path << "\n" << r.out;
    EXPECT_NE(r.out.find("REPRODUCED: the back-end deviates from the spec"), std::string::npos)
        << path << "\n"
        << r.out;
    if (path.stem().string().ends_with("-crash")) {
      EXPECT_NE(r.out.find("the back-end process died (crash)"), std::string::npos) << path << "\n"
                                                                                    << r.out;
    }
    expect_leak_shown(path, r);
  }
  // The negative test: a program the daemon handles as the spec says.
  hand_over(peer);
  const Ran ok = run(build(VhostBinding::parse(kAgreeing), "lvu_agreeing", kLibvhostUser) + " " +
                     peer.socket_path() + " " + std::to_string(peer.pid()));
  EXPECT_EQ(ok.code, 0) << ok.out;
}

// ---- KVM (/dev/kvm) ---------------------------------------------------------------------------

// The reproducer of a corpus program for KVM, compiled (with `defines`, e.g. the test-only
// -DLOCKSTEP_REPRO_TEST_SKIP_CLOSE): its binary.
std::string build_kvm(const std::string& program, const std::string& defines = "") {
  const fs::path path = fs::path(LOCKSTEP_SOURCE_DIR) / "corpus/programs" / program;
  std::ifstream in(path);
  const mshv::Trace t = MshvBinding::parse(std::string((std::istreambuf_iterator<char>(in)), {}));
  const std::string name = path.stem().string() + (defines.empty() ? "_kvm" : "_kvm_defined");
  const fs::path c = scratch() / (name + ".c"), bin = scratch() / name;
  std::ofstream(c) << kvm_reproducer(t, peers::kvm::vocabulary_for(t.profile), "kvm",
                                     path.string());
  const Ran cc = run("cc -std=c11 -Wall -Wextra -Werror " + defines + " -o " + bin.string() + " " +
                     c.string());
  EXPECT_EQ(cc.code, 0) << program << ": " << cc.out;
  return bin.string();
}

#define KVM_OR_SKIP()                                                             \
  if (const auto env = peers::kvm::probe_environment(); !env.unavailable.empty()) \
  GTEST_SKIP() << env.unavailable

// KVM does what the kvm profile says on the KVM create paths (an MSHV program in KVM numbers).
TEST(ReproKvm, AProgramKvmAgreesOnExitsZero) {
  KVM_OR_SKIP();
  const std::string bin = build_kvm("mshv_kvm/kvm_create_paths.txt");
  EXPECT_EQ(run(bin + " extra").code, 2);  // usage
  const Ran r = run(bin);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out.find("DEVIATES"), std::string::npos) << r.out;
  // close(d3) took its kvm-device fd away (d6's fd, installed with EFAULT, is not the program's).
  EXPECT_NE(r.out.find("  kvm-device "), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("LEFT OPEN"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("fds the program closed that are still open: 0\n"), std::string::npos)
      << r.out;
}

// The end-of-run fd count: kvm_attr_paths closes its VM fd (p0) as its second-last op and KVM
// agrees at every op; built as is the count shows the fd gone (exit 0), built with the test-only
// define that skips the program's first close it exits 1 at the fd count alone (no op deviates).
TEST(ReproKvm, EndOfRunFdCountCatchesASkippedClose) {
  KVM_OR_SKIP();
  const Ran ok = run(build_kvm("mshv_kvm/kvm_attr_paths.txt"));
  EXPECT_EQ(ok.code, 0) << ok.out;
  EXPECT_NE(ok.out.find("  kvm-vm             0         0         1         1\n"),
            std::string::npos)
      << ok.out;
  const Ran r = run(build_kvm("mshv_kvm/kvm_attr_paths.txt", "-DLOCKSTEP_REPRO_TEST_SKIP_CLOSE"));
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_EQ(r.out.find("DEVIATES"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  kvm-vm             0         1         1         0  LEFT OPEN\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("fds the program closed that are still open: 1\n"), std::string::npos)
      << r.out;
}

// Exit 3 where /dev/kvm is not KVM: in a private mount namespace /dev/null is bound over it
// (skips where this process may not make one).
TEST(ReproKvm, ExitsThreeWhereDevKvmIsNotKvm) {
  KVM_OR_SKIP();
  const std::string bin = build_kvm("mshv_kvm/kvm_create_paths.txt");
  if (run("unshare -m sh -c 'mount --bind /dev/null /dev/kvm' ").code != 0)
    GTEST_SKIP() << "no private mount namespace here (unshare -m, mount --bind need privileges)";
  const Ran r = run("unshare -m sh -c 'mount --bind /dev/null /dev/kvm && exec " + bin + "'");
  EXPECT_EQ(r.code, 3) << r.out;
  EXPECT_NE(r.out.find("KVM_GET_API_VERSION is not 12"), std::string::npos) << r.out;
}

// The documented deviation of docs/peers/kvm.md finding 1 (peers/kvm/expectations.txt): under
// mshv-v1, CREATE_DEVICE_TEST with a read-only argument succeeds; KVM copies the struct back and
// faults.
TEST(ReproKvm, TheTestCreateCopyBackDeviationReproduces) {
  KVM_OR_SKIP();
  const Ran r = run(build_kvm("mshv_device/create_test_readonly_arg.txt"));
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("mshv-v1 expects: 0\n  kvm expects:     EFAULT\n  KVM returned:    EFAULT\n"
                       "  DEVIATES from mshv-v1"),
            std::string::npos)
      << r.out;
}

}  // namespace
}  // namespace lockstep::tools
