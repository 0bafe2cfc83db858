// The vhost proofs' verdicts, pinned for EVERY profile: each invariant holds (k-induction) on
// `spec`, and fails (shortest BMC counterexample) exactly on the profiles listed — mutants, and
// third-party profiles where the failure is a legitimate finding about that back-end.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "proofs/vhost/prove.h"

namespace lockstep::vhost::proofs {
namespace {

// invariant -> profiles on which it fails (everything else: holds).
const std::map<std::string, std::set<std::string>> kExpectedFailures = {
    {"well_formed", {}},
    // Findings: DPDK 22.11 / the 2018 RFC / libvhost-user overwrite postcopy_ufd on a repeated
    // ADVISE and leak the earlier uffd.
    {"one_uffd_per_connection",
     {"rfc-2018", "dpdk-22.11", "libvhost-user", "mutant-advise-second-uffd"}},
    // Findings: LISTEN is ungated on DPDK / RFC / libvhost-user: listening without a uffd.
    // (mutant-advise-second-uffd: a failed second ADVISE drops the uffd while listening.)
    {"uffd_iff_postcopy_phase",
     {"rfc-2018", "dpdk-22.11", "libvhost-user", "mutant-listen-without-advise",
      "mutant-advise-second-uffd"}},
    // (mutant-advise-second-uffd: END after that drop answers "no uffd" with regions still
    // registered with the leaked one, depth 8.)
    {"end_leaves_no_uffd", {"mutant-end-keeps-uffd", "mutant-advise-second-uffd"}},
    // Findings (per profile): libvhost-user ignores RESET_OWNER, rust-vmm clears features only.
    {"reset_owner_releases", {"libvhost-user", "rust-vmm"}},
    // Finding: rust-vmm's uffd survives a disconnect.
    {"disconnect_releases", {"rust-vmm", "mutant-disconnect-leaks-uffd"}},
    {"listen_after_advise",
     {"rfc-2018", "dpdk-22.11", "libvhost-user", "mutant-listen-without-advise"}},
    // (mutant-table-reply-when-advised: the table reply in the advised phase, depth 3.)
    {"table_reply_only_listening", {"mutant-table-reply-when-advised"}},
    // Finding: DPDK / RFC echo ADVISE's payload (reply size 8 on an 8-byte ADVISE).
    {"advise_reply_shape", {"rfc-2018", "dpdk-22.11"}},
    // Findings: the RFC (no validate_msg_fds, CVE-2019-14818) and libvhost-user keep fds.
    // Findings: DPDK 22.11 leaves open the fds of a message whose ring index fails
    // vhost_user_check_and_alloc_queue_pair, and those of a SET_MEM_TABLE from the region that
    // fails to map on (measured: docs/peers/dpdk.md #26, #63, #94).
    {"unused_fds_closed", {"rfc-2018", "dpdk-22.11", "libvhost-user", "mutant-advise-keeps-fds"}},
    // (mutant-reply-echoes-need-reply: a NEED_REPLY request answered with flags 0xD, depth 1.)
    // Finding: DPDK 22.11 send_vhost_reply echoes the request's reserved flag bits
    // (reply_flags_echo_request; measured: docs/peers/dpdk.md #7, request 0x11 -> reply 0x15).
    {"reply_flags", {"dpdk-22.11", "mutant-reply-echoes-need-reply"}},
    // (mutant-table-keeps-old-region-fds: a replacing SET_MEM_TABLE keeps the old fds, depth 2.)
    {"region_fds_bounded", {"mutant-table-keeps-old-region-fds"}},
    // Finding: DPDK / RFC take any fd-less SET_MEM_TABLE as the P6 ack.
    {"ack_before_register", {"rfc-2018", "dpdk-22.11", "mutant-no-ack-check"}},
};

std::vector<const Profile*> all_profiles() {
  auto v = shipped_profiles();
  for (auto* p : mutant_profiles()) v.push_back(p);
  return v;
}

TEST(VhostProofs, VerdictsForEveryProfile) {
  std::set<std::string> caught;
  for (const Profile* p : all_profiles())
    for (const Invariant& inv : all_invariants()) {
      Result r = check(inv, *p);
      bool fails = kExpectedFailures.at(inv.name).count(p->name) > 0;
      EXPECT_EQ(r.status, fails ? Status::Fails : Status::Holds) << inv.name << " / " << p->name;
      if (r.status == Status::Holds) {
        EXPECT_EQ(r.k, 1) << inv.name << " / " << p->name;
      }
      if (r.status == Status::Fails) {
        caught.insert(p->name);
        ASSERT_TRUE(r.counterexample);
        EXPECT_EQ(r.counterexample->ops.size(), static_cast<size_t>(r.k));
      }
    }
  for (const Profile* p : mutant_profiles()) EXPECT_TRUE(caught.count(p->name)) << p->name;
  EXPECT_EQ(kExpectedFailures.size(), all_invariants().size());
}

// Which invariants need the well_formed strengthening: without it the inductive step starts
// from unreachable states (e.g. disconnected yet listening) and finds no proof up to k = 3.
TEST(VhostProofs, StrengtheningIsNeededWhereTheFilesSaySo) {
  const std::set<std::string> kNeedIt = {"one_uffd_per_connection", "end_leaves_no_uffd",
                                         "ack_before_register"};
  const Profile& spec = *find_profile("spec");
  for (Invariant inv : all_invariants()) {
    if (inv.auxiliary) continue;
    EXPECT_EQ(inv.strengthened, kNeedIt.count(inv.name) > 0) << inv.name;
    inv.strengthened = false;
    EXPECT_EQ(check(inv, spec).status, kNeedIt.count(inv.name) ? Status::Unknown : Status::Holds)
        << inv.name;
  }
}

}  // namespace
}  // namespace lockstep::vhost::proofs
