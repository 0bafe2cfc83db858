// The fault sweep: every site x errno of core/mshv/sites.def and core/vhost/sites.def, armed
// right before a short program's op that reaches that site, under the differential runner with
// the fd census (core/run.h). Each pair must agree with the model, and must really have failed
// in impl/ (impl/sys.h counts every injection): a site that no program here reaches fails the
// test, so a new sites.def row needs a reaching program. The negative test: an impl mutant that
// mishandles one fault (mmap-failure-keeps-fd) is caught by the same sweep.
#include <gtest/gtest.h>

#include <cerrno>
#include <optional>
#include <string>
#include <vector>

#include "core/errno_names.h"
#include "core/run.h"
#include "impl/mutants.h"
#include "impl/sys.h"
#include "tools/bindings.h"

namespace lockstep {
namespace {

template <class Op>
using Program = std::pair<std::vector<Op>, std::vector<Op>>;  // before the fault, after it

// MSHV: the ops before the fault and the op that reaches the site.
std::optional<Program<mshv::Op>> mshv_reach(mshv::Site site) {
  using namespace mshv;
  const Handle p0{kPartition, 0}, d0{kDevice, 0}, f0{kVfioFile, 0};
  const Op create = CreateDevice{p0};
  switch (site) {
    case Site::Alloc:         // C6
    case Site::FdAlloc:       // C10
    case Site::CopyToUser:    // C11
    case Site::CopyFromUser:  // C1
    case Site::Fstat:         // fdget
    case Site::PtMutex:       // F4
      return Program<Op>{{OpenPartition{}}, {create}};
    case Site::OpenFd:
      return Program<Op>{{}, {OpenPartition{}}};
    case Site::Dup: {  // A4: ADD's fget
      SetAttr add;
      add.dev = d0;
      add.fd = FdArg{FdArg::Kind::Handle, f0, -1};
      return Program<Op>{{OpenPartition{}, create, OpenFile{true}}, {add}};
    }
    case Site::Close:
      return Program<Op>{{OpenPartition{}}, {Close{p0}}};
  }
  return std::nullopt;
}

// vhost: after the negotiation preamble, the ops before the fault and the message that reaches
// the site.
std::optional<Program<vhost::Op>> vhost_reach(vhost::Site site) {
  using namespace vhost;
  using namespace vhost::uapi;
  constexpr uint32_t kNR = kVersion | kNeedReply;
  std::vector<Op> pre = preamble();
  auto with = [&](std::vector<Op> before, std::vector<Op> after) {
    pre.insert(pre.end(), before.begin(), before.end());
    return Program<Op>{pre, after};
  };
  Send call = send_u64(kSetVringCall, 0);
  call.fds = {FdSpec{FdKind::Eventfd}};
  switch (site) {
    case Site::Userfaultfd:  // P4
    case Site::UffdioApi:
      return with({}, {send(kPostcopyAdvise)});
    case Site::UffdioRegister:  // X8: at the ack
      return with({send(kPostcopyAdvise), send(kPostcopyListen, kNR), set_mem_table(regions(1))},
                  {mem_table_ack()});
    case Site::Mmap:  // M2
      return with({}, {set_mem_table(regions(1))});
    case Site::Sendmsg:  // any reply
    case Site::Recvmsg:  // any read
      return with({}, {send(kGetFeatures)});
    case Site::Munmap:  // the old table unmapped by the new one
      return with({set_mem_table(regions(1))}, {set_mem_table(regions(1))});
    case Site::Close:  // the ring's old call fd closed by its replacement
      return with({call}, {call});
  }
  return std::nullopt;
}

template <class B, class Ops>
std::optional<Divergence> run_once(const Ops& ops, const std::string& profile, int mutant) {
  auto model = B::model(profile);
  auto target = B::target(profile, mutant);
  auto verdict = run<typename B::P>(ops, model, target, {.check_fds = true, .record = false});
  target.reap();
  if (verdict.ok()) return std::nullopt;
  return *verdict.divergence;
}

// One protocol's sweep; returns the divergences (mutant runs expect some).
template <class B, class SiteT, class ReachFn>
std::vector<std::string> sweep(ReachFn reach, const std::string& profile, int mutant,
                               size_t site_count) {
  std::vector<std::string> divergences;
  size_t pairs = 0;
  for (size_t row = 0; row < site_count; ++row) {
    const auto site = static_cast<SiteT>(row);
    const auto program = reach(site);
    if (!program) {
      ADD_FAILURE() << B::kName << ": no program reaches site " << to_string(site);
      continue;
    }
    for (int err : site_errnos(site)) {
      auto ops = program->first;
      ops.push_back(typename B::FailNextT{site, err});
      ops.insert(ops.end(), program->second.begin(), program->second.end());
      const uint64_t before = sys::injected(sys::at(site), err);
      if (auto d = run_once<B>(ops, profile, mutant))
        divergences.push_back(to_string(site) + "/" + errno_name(err) + ": " + d->signature);
      ++pairs;
      if (mutant == 0) {
        EXPECT_GT(sys::injected(sys::at(site), err), before)
            << B::kName << ": fail_next(" << to_string(site) << ", " << errno_name(err)
            << ") never fired: the program does not reach the site";
      }
    }
  }
  if (mutant == 0) std::printf("%s: %zu site x errno pairs agree\n", B::kName.data(), pairs);
  return divergences;
}

struct Mshv : tools::MshvBinding {
  using FailNextT = mshv::FailNext;
};
struct Vhost : tools::VhostBinding {
  using FailNextT = vhost::FailNext;
};

TEST(FaultSweep, EveryMshvSiteAndErrnoAgrees) {
  for (const char* profile : {"mshv-v1", "mshv-strict"})
    for (const std::string& d : sweep<Mshv, mshv::Site>(mshv_reach, profile, 0, mshv::kSiteCount))
      ADD_FAILURE() << profile << ": " << d;
}

TEST(FaultSweep, EveryVhostSiteAndErrnoAgrees) {
  for (const std::string& d : sweep<Vhost, vhost::Site>(vhost_reach, "spec", 0, vhost::kSiteCount))
    ADD_FAILURE() << d;
}

// The reach check can fail: a fault whose op never reaches its site is not counted.
TEST(FaultSweep, AFaultThatReachesNoSiteIsNotCounted) {
  using namespace vhost;
  std::vector<Op> ops = preamble();
  ops.push_back(FailNext{Site::Mmap, ENOMEM});
  ops.push_back(send(uapi::kGetFeatures));  // maps nothing
  const uint64_t before = sys::injected(sys::at(Site::Mmap), ENOMEM);
  EXPECT_FALSE(run_once<Vhost>(ops, "spec", 0));
  EXPECT_EQ(sys::injected(sys::at(Site::Mmap), ENOMEM), before);
}

// The negative test: a back-end that keeps a failed region's fd diverges in the sweep, at the
// mmap site, on the fd census.
TEST(FaultSweep, CatchesAnImplThatMishandlesAFault) {
  const int mutant = impl_mutant_id("vhost", "mmap-failure-keeps-fd");
  const std::vector<std::string> found =
      sweep<Vhost, vhost::Site>(vhost_reach, "spec", mutant, vhost::kSiteCount);
  ASSERT_FALSE(found.empty()) << "the sweep passes a back-end that leaks on mmap failure";
  for (const std::string& d : found) {
    EXPECT_EQ(d.rfind("mmap/", 0), 0u) << d;
    EXPECT_NE(d.find("vhost/SET_MEM_TABLE/resources.held_fds"), std::string::npos) << d;
  }
}

}  // namespace
}  // namespace lockstep
