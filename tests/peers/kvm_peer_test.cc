// The KVM peer (peers/kvm): the kvm corpus against the real kvm-vfio device, and the negative
// check that the comparison catches a disagreement. Skips (with the reason) without /dev/kvm.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "core/mshv/codec.h"
#include "core/mshv/uapi.h"
#include "core/program_files.h"
#include "model/mshv/model.h"
#include "peers/kvm/kvm_campaign.h"
#include "peers/kvm/kvm_target.h"
#include "peers/kvm/mapping.h"

namespace lockstep::peers::kvm {
namespace {

namespace fs = std::filesystem;

#define SKIP_WITHOUT_KVM()                                         \
  do {                                                             \
    const KvmEnvironment env = probe_environment();                \
    if (!env.unavailable.empty()) GTEST_SKIP() << env.unavailable; \
  } while (0)

mshv::Trace load(const fs::path& file) {
  std::ifstream in(file);
  return mshv::parse_text(std::string{std::istreambuf_iterator<char>(in), {}});
}

std::vector<fs::path> programs(const char* dir) {
  return program_paths(fs::path(LOCKSTEP_SOURCE_DIR) / dir);
}

TEST(KvmPeer, KvmCorpusAgreesWithTheKvmProfile) {
  SKIP_WITHOUT_KVM();
  const auto files = programs("corpus/programs/mshv_kvm");
  ASSERT_FALSE(files.empty());
  for (const auto& file : files) {
    mshv::Trace t = load(file);
    ASSERT_EQ(t.profile, "kvm") << file;
    PeerCheck c = check_trace(t, "kvm", Vocabulary::Kvm);
    ASSERT_FALSE(c.skipped) << file << ": " << c.skipped->reason;
    EXPECT_TRUE(c.signature.empty()) << file << "\n" << c.side_by_side;
    // The program's own annotations are what the real kernel answers.
    for (size_t i = 0; i < t.notes.size() && i < c.verdict.target.size(); ++i) {
      const std::string& note = t.notes[i];
      if (note.starts_with("= 0")) {
        EXPECT_EQ(c.verdict.target[i].err, 0) << file << " op " << i;
      }
    }
  }
}

// peers/kvm/expectations.txt parses here even without /dev/kvm (the same parser and audit as
// the DPDK peer's, whose negative tests run over the fake peer in campaign_test.cc).
TEST(KvmPeer, ExpectationsFileParses) {
  const Expectations e =
      load_expectations(std::string(LOCKSTEP_SOURCE_DIR) + "/peers/kvm/expectations.txt");
  EXPECT_FALSE(e.entries.empty());
}

// The campaign's corpus phase (kvm and mshv-v1) shows exactly the corpus entries of
// peers/kvm/expectations.txt.
TEST(KvmPeer, CorpusMatchesTheExpectationsFile) {
  SKIP_WITHOUT_KVM();
  PeerOptions options = with_defaults(KvmBinding::kInfo, {});
  options.corpus_root = std::string(LOCKSTEP_SOURCE_DIR) + "/corpus";
  options.findings_dir = (fs::temp_directory_path() / "lockstep-kvm-peer-test-findings").string();
  const Expectations file =
      load_expectations(std::string(LOCKSTEP_SOURCE_DIR) + "/peers/kvm/expectations.txt");
  KvmBinding binding(options);
  Campaign<KvmBinding> campaign(options, binding, file);
  campaign.run_corpus();
  audit_results(KvmBinding::kInfo, options, file, campaign.results());
  for (const auto& p : campaign.results().problems) ADD_FAILURE() << p;
  fs::remove_all(options.findings_dir);
}

TEST(KvmPeer, DeviceCorpusTranslatedToKvmAgreesUpToTheFirstVfioOp) {
  SKIP_WITHOUT_KVM();
  for (const auto& file : programs("corpus/programs/mshv_device")) {
    mshv::Trace t = to_kvm(load(file), Vocabulary::Mshv);  // written in MSHV numbers
    t.profile = "kvm";
    if (auto skip = first_unsupported(t, Vocabulary::Kvm)) t.ops.resize(skip->index);
    if (t.ops.empty()) continue;
    PeerCheck c = check_trace(t, "kvm", Vocabulary::Kvm);
    EXPECT_TRUE(c.signature.empty()) << file << "\n" << c.side_by_side;
  }
}

// The negative test: mshv-v1 without the type swap says type 4 is no device (ENODEV); KVM
// creates one. The err-only comparison must catch it, and classify it as the type numbering.
TEST(KvmPeer, MshvV1AgainstKvmOnTypeFourDisagrees) {
  SKIP_WITHOUT_KVM();
  mshv::Trace t = mshv::parse_text(
      "# lockstep mshv  profile=mshv-v1\n"
      "p0 = open_partition()\n"
      "d0 = create_device(p0, type=4, flags=0x0)\n"
      "has_attr(d0, group=1, attr=1, fd=-1)\n");
  PeerCheck c = check_trace(t, "mshv-v1", Vocabulary::Kvm);
  ASSERT_FALSE(c.skipped);
  ASSERT_FALSE(c.verdict.ok());
  EXPECT_EQ(c.verdict.divergence->index, 1u);
  EXPECT_EQ(c.verdict.divergence->field, "err");
  EXPECT_NE(c.signature.find("CREATE_DEVICE/err (model ENODEV, peer 0)"), std::string::npos)
      << c.signature;
  PeerOptions options;
  options.profile = "mshv-v1";
  options.type_map = false;  // the trace as written: type 4 is no device to mshv-v1
  const KvmBinding unswapped(options);
  mshv::Trace minimal = shrink(unswapped, t, c.signature);
  EXPECT_EQ(minimal.ops.size(), 2u);
  Classification cls = classify(minimal, "mshv-v1", Vocabulary::Kvm,
                                check_trace(minimal, "mshv-v1", Vocabulary::Kvm));
  EXPECT_EQ(cls.kind, 'a') << cls.why;
  EXPECT_NE(cls.why.find("type numbering"), std::string::npos) << cls.why;
}

// With the swap, the same trace agrees on create; GET still differs (EPERM vs ENOTTY), which
// is classified as a documented deviation.
TEST(KvmPeer, MshvV1WithTypeSwapDiffersOnlyWhereDocumented) {
  SKIP_WITHOUT_KVM();
  mshv::Trace t = mshv::parse_text(
      "# lockstep mshv  profile=mshv-v1\n"
      "p0 = open_partition()\n"
      "d0 = create_device(p0, type=0, flags=0x0)\n"
      "has_attr(d0, group=1, attr=1, fd=-1)\n"
      "get_attr(d0, group=1, attr=1, fd=-1)\n");
  PeerCheck c = check_trace(t, "mshv-v1", Vocabulary::Mshv);
  ASSERT_FALSE(c.verdict.ok());
  EXPECT_EQ(c.verdict.divergence->index, 3u);
  Classification cls = classify(t, "mshv-v1", Vocabulary::Mshv, c);
  EXPECT_EQ(cls.kind, 'a') << cls.why;
  EXPECT_NE(cls.why.find("get_request"), std::string::npos) << cls.why;
}

// The fd oracle sees the device fd a faulted copy-back leaves behind; reap() closes it.
TEST(KvmPeer, CopyBackFaultLeavesAnFdTheOracleCounts) {
  SKIP_WITHOUT_KVM();
  mshv::Trace t = mshv::parse_text(
      "# lockstep mshv  profile=kvm\n"
      "p0 = open_partition()\n"
      "d0 = create_device(p0, type=4, flags=0x0, arg=ro)\n");
  const FdSet before = FdSet::current();
  PeerCheck c = check_trace(t, "kvm", Vocabulary::Kvm);
  EXPECT_TRUE(c.verdict.ok()) << c.side_by_side;
  EXPECT_EQ(c.verdict.fds_delta, 1);
  EXPECT_EQ(c.verdict.fds_expected, 1);
  EXPECT_EQ(FdSet::current().delta_since(before), 0) << "reap() must close the orphan";
  // And a model that expects no fd (mshv-strict) is caught by the oracle.
  mshv::Trace strict = t;
  strict.profile = "mshv-strict";
  PeerCheck s = check_trace(strict, "mshv-strict", Vocabulary::Kvm);
  // mshv-strict rejects type 4 (its VFIO type is 0): use the swap so the create is reached.
  s = check_trace(to_kvm(strict, Vocabulary::Mshv), "mshv-strict", Vocabulary::Mshv);
  ASSERT_FALSE(s.verdict.ok());
  EXPECT_EQ(s.verdict.divergence->field, "fds") << s.side_by_side;
}

TEST(KvmPeer, InexpressibleOpsAreSkippedNotFaked) {
  mshv::Trace t = mshv::parse_text(
      "# lockstep mshv  profile=kvm\n"
      "p0 = open_partition()\n"
      "f0 = open_vfio_file()\n");
  auto skip = first_unsupported(t, Vocabulary::Kvm);
  ASSERT_TRUE(skip);
  EXPECT_EQ(skip->index, 1u);
  EXPECT_NE(skip->reason.find("CONFIG_VFIO"), std::string::npos);
  EXPECT_TRUE(unsupported(mshv::FailNext{}));
  EXPECT_TRUE(unsupported(mshv::RawIoctl{{mshv::kPartition, 0}, 0xAE41}));  // KVM_CREATE_VCPU
  EXPECT_FALSE(unsupported(mshv::RawIoctl{{mshv::kPartition, 0}, mshv::uapi::kKvmCreateDevice}));
  EXPECT_FALSE(unsupported(mshv::RawIoctl{{mshv::kDevice, 0}, 0x12345678}));
}

// Deleting an op renumbers the later handles of its kind in every op that names one,
// attribute ops included, and refuses a deletion that would leave a handle without its maker.
TEST(KvmPeer, ShrinkStepRenumbersHandlesInEveryOp) {
  const mshv::Trace t = mshv::parse_text(
      "# lockstep mshv  profile=kvm\n"
      "p0 = open_partition()\n"
      "n0 = open_file()\n"
      "n1 = open_file()\n"
      "d0 = create_device(p0, type=4, flags=0x0)\n"
      "set_attr(d0, group=1, attr=1, fd=n1)\n"
      "close(n1)\n");
  const std::optional<mshv::Trace> without_n0 = KvmBinding::without(t, 1);
  ASSERT_TRUE(without_n0);
  EXPECT_EQ(mshv::print_text(*without_n0),
            "# lockstep mshv  profile=kvm\n"
            "p0 = open_partition()\n"
            "n0 = open_file()\n"
            "d0 = create_device(p0, type=4, flags=0x0)\n"
            "set_attr(d0, group=1, attr=1, fd=n0)\n"
            "close(n0)\n");
  EXPECT_FALSE(KvmBinding::without(t, 2));  // n1 is named by the set_attr and the close
  EXPECT_FALSE(KvmBinding::without(t, 3));  // d0 is named by the set_attr
}

// Generated attribute ops are steered toward the VFIO group and its ADD/DEL attributes.
TEST(KvmPeer, GeneratedAttrOpsAreSteered) {
  std::mt19937_64 rng(1);
  size_t attrs = 0, vfio_group = 0;
  for (int i = 0; i < 300; ++i)
    for (const mshv::Op& op : KvmBinding::generate(rng, "kvm").ops) {
      const mshv::AttrArgs* a = std::get_if<mshv::SetAttr>(&op);
      if (!a) a = std::get_if<mshv::HasAttr>(&op);
      if (!a) a = std::get_if<mshv::GetAttr>(&op);
      if (!a) continue;
      attrs++;
      vfio_group += a->group == mshv::uapi::kDevVfioFile;
    }
  ASSERT_GT(attrs, 50u);
  EXPECT_GT(vfio_group * 10, attrs * 7) << vfio_group << " of " << attrs;
}

TEST(KvmPeer, TypeAndRequestSwapIsAnInvolution) {
  EXPECT_EQ(map_type(0, Vocabulary::Mshv), 4u);
  EXPECT_EQ(map_type(4, Vocabulary::Mshv), 0u);
  EXPECT_EQ(map_type(7, Vocabulary::Mshv), 7u);
  EXPECT_EQ(map_type(0, Vocabulary::Kvm), 0u);
  for (const auto& row : kRequests) {
    if (!row.mshv) continue;
    EXPECT_EQ(map_request(row.mshv, Vocabulary::Mshv), row.kvm);
    EXPECT_EQ(map_request(row.kvm, Vocabulary::Mshv), row.mshv);
  }
  EXPECT_EQ(map_request(mshv::uapi::kKvmGetDeviceAttr, Vocabulary::Mshv),
            mshv::uapi::kKvmGetDeviceAttr);
}

}  // namespace
}  // namespace lockstep::peers::kvm
