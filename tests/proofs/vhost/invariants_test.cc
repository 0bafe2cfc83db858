// The vhost proofs' verdicts, pinned for EVERY profile: each invariant holds (k-induction) on
// `spec`, and fails (shortest BMC counterexample) exactly on the profiles listed: mutants, and
// third-party profiles where the failure is a legitimate finding about that back-end. With the
// tests every protocol has (tests/proofs/protocol_tests.h).
#include "tests/proofs/protocol_tests.h"

#include "proofs/vhost/binding.h"

namespace lockstep::proofs::testing {
namespace {

using B = tools::VhostBinding;

// invariant -> profiles on which it fails (everything else: holds).
const ExpectedFailures kExpectedFailures = {
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
    // fails to map on (measured: peers/dpdk/expectations.txt "spec: lockstep: divergence
    // dpdk-peer/SET_VRING_ENABLE/resources.held_fds" and the dpdk-22.11 held_fds entries).
    {"unused_fds_closed", {"rfc-2018", "dpdk-22.11", "libvhost-user", "mutant-advise-keeps-fds"}},
    // (mutant-reply-echoes-need-reply: a NEED_REPLY request answered with flags 0xD, depth 1.)
    // Finding: DPDK 22.11 send_vhost_reply echoes the request's reserved flag bits
    // (reply_flags_echo_request; measured: corpus wire.txt, request 0x11 -> reply 0x15).
    {"reply_flags", {"dpdk-22.11", "mutant-reply-echoes-need-reply"}},
    // (mutant-table-keeps-old-region-fds: a replacing SET_MEM_TABLE keeps the old fds, depth 2.)
    {"region_fds_bounded", {"mutant-table-keeps-old-region-fds"}},
    // Finding: DPDK / RFC take any fd-less SET_MEM_TABLE as the P6 ack.
    {"ack_before_register", {"rfc-2018", "dpdk-22.11", "mutant-no-ack-check"}},
};

// invariant -> profiles on which it holds only vacuously (the vacuity check finds no trace
// reaching its antecedent). Finding: rust-vmm never sends the postcopy SET_MEM_TABLE reply
// (postcopy_mem_table_reply is off), so it never awaits the P6 ack: the two P6 rules say nothing
// about it.
const ExpectedFailures kExpectedVacuous = {
    {"table_reply_only_listening", {"rust-vmm"}},
    {"ack_before_register", {"rust-vmm"}},
};

TEST(VhostProofs, VerdictsForEveryProfile) {
  auto caught = expect_verdicts<B>(every_profile<B>(), kExpectedFailures, kExpectedVacuous);
  for (const auto* p : vhost::mutant_profiles()) EXPECT_TRUE(caught.count(p->name)) << p->name;
}

}  // namespace

INSTANTIATE_TYPED_TEST_SUITE_P(VhostProofs, ProtocolProofs, tools::VhostBinding);

}  // namespace lockstep::proofs::testing
