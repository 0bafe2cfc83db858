// The uAPI numbers in core/mshv/uapi.h, checked against the seed patch (V1 05/13) and against
// the system's <linux/kvm.h>: the numbers are defined once and tested, never retyped.
#include <gtest/gtest.h>
#include <linux/kvm.h>

#include <fstream>
#include <iterator>
#include <regex>
#include <string>

#include "core/mshv/uapi.h"

namespace lockstep::mshv {
namespace {

// The seed is a patchwork JSON record; its "diff" field holds the uAPI header hunk with
// escaped newlines and tabs. Return the diff with the escapes undone.
std::string seed_diff() {
  std::ifstream in(LOCKSTEP_SOURCE_DIR "/../shared/seeds/000_d489f76ad3a22072.txt");
  std::string text{std::istreambuf_iterator<char>(in), {}};
  if (text.empty()) return text;
  text = std::regex_replace(text, std::regex(R"(\\n)"), "\n");
  return std::regex_replace(text, std::regex(R"(\\t)"), "\t");
}

// "+#define NAME<ws>VALUE" in the seed's header hunk.
std::string seed_define(const std::string& diff, const std::string& name) {
  std::smatch m;
  std::regex re("\\+#define " + name + "\\s+([^\\n]+)");
  return std::regex_search(diff, m, re) ? m[1].str() : "";
}

class SeedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    diff_ = seed_diff();
    if (diff_.empty()) GTEST_SKIP() << "shared/seeds/ is not beside this checkout";
  }
  std::string diff_;
};

TEST_F(SeedTest, ConstantsMatchSeed) {
  EXPECT_EQ(seed_define(diff_, "MSHV_CREATE_DEVICE_TEST"), std::to_string(uapi::kCreateDeviceTest));
  EXPECT_EQ(seed_define(diff_, "MSHV_DEV_VFIO_FILE"), std::to_string(uapi::kDevVfioFile));
  EXPECT_EQ(seed_define(diff_, "MSHV_DEV_VFIO_FILE_ADD"), std::to_string(uapi::kDevVfioFileAdd));
  EXPECT_EQ(seed_define(diff_, "MSHV_DEV_VFIO_FILE_DEL"), std::to_string(uapi::kDevVfioFileDel));
}

TEST_F(SeedTest, DeviceTypeEnumOrder) {
  // enum { MSHV_DEV_TYPE_VFIO, MSHV_DEV_TYPE_MAX }: VFIO is 0, MAX is 1.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(diff_, m, std::regex(R"(enum \{\s*\+\s*(\w+),\s*\+\s*(\w+),)")));
  EXPECT_EQ(m[1].str(), "MSHV_DEV_TYPE_VFIO");
  EXPECT_EQ(m[2].str(), "MSHV_DEV_TYPE_MAX");
  EXPECT_EQ(uapi::kDevTypeVfio, 0u);
  EXPECT_EQ(uapi::kDevTypeMax, 1u);
}

TEST_F(SeedTest, DeviceIoctlNumbersMatchSeed) {
  EXPECT_EQ(seed_define(diff_, "MSHV_SET_DEVICE_ATTR"),
            "_IOW(MSHV_IOCTL, 0x00, struct mshv_device_attr)");
  EXPECT_EQ(seed_define(diff_, "MSHV_HAS_DEVICE_ATTR"),
            "_IOW(MSHV_IOCTL, 0x01, struct mshv_device_attr)");
  EXPECT_EQ(uapi::kSetDeviceAttr, uapi::iow(0xB8, 0x00, 24));
  EXPECT_EQ(uapi::kHasDeviceAttr, uapi::iow(0xB8, 0x01, 24));
}

TEST_F(SeedTest, StructLayoutsMatchSeed) {
  // Field order of the two structs as the seed declares them.
  EXPECT_NE(diff_.find("__u32\ttype;"), std::string::npos);
  std::regex create(
      R"(struct mshv_create_device \{\s*\+\s*__u32\s+type;[^\n]*\n\+\s*__u32\s+fd;[^\n]*\n\+\s*__u32\s+flags;)");
  EXPECT_TRUE(std::regex_search(diff_, create));
  std::regex attr(
      R"(struct mshv_device_attr \{\s*\+\s*__u32\s+flags;[^\n]*\n\+\s*__u32\s+group;[^\n]*\n\+\s*__u64\s+attr;[^\n]*\n\+\s*__u64\s+addr;)");
  EXPECT_TRUE(std::regex_search(diff_, attr));
  EXPECT_EQ(sizeof(uapi::CreateDevice), 12u);
  EXPECT_EQ(sizeof(uapi::DeviceAttr), 24u);
}

TEST(MshvUapi, EncodedValuesFromReference) {
  // reference/mshv-device.md §3.4, "Encoded values on x86-64 (gcc)".
  EXPECT_EQ(uapi::kCreateDevice, 0xC00CB808u);
  EXPECT_EQ(uapi::kSetDeviceAttr, 0x4018B800u);
  EXPECT_EQ(uapi::kHasDeviceAttr, 0x4018B801u);
  // The device-fd numbering clash (§3.5): out-of-tree GET == the series' HAS.
  EXPECT_EQ(uapi::kOutOfTreeGetDeviceAttr, uapi::kHasDeviceAttr);
  EXPECT_EQ(uapi::kOutOfTreeHasDeviceAttr, 0x4018B802u);
}

TEST(MshvUapi, KvmNumbersMatchSystemHeader) {
  EXPECT_EQ(uapi::kKvmCreateDevice, static_cast<uint32_t>(KVM_CREATE_DEVICE));
  EXPECT_EQ(uapi::kKvmSetDeviceAttr, static_cast<uint32_t>(KVM_SET_DEVICE_ATTR));
  EXPECT_EQ(uapi::kKvmGetDeviceAttr, static_cast<uint32_t>(KVM_GET_DEVICE_ATTR));
  EXPECT_EQ(uapi::kKvmHasDeviceAttr, static_cast<uint32_t>(KVM_HAS_DEVICE_ATTR));
  EXPECT_EQ(uapi::kKvmDevTypeVfio, static_cast<uint32_t>(KVM_DEV_TYPE_VFIO));
  EXPECT_EQ(uapi::kKvmCreateDeviceTest, static_cast<uint32_t>(KVM_CREATE_DEVICE_TEST));
  EXPECT_EQ(sizeof(uapi::CreateDevice), sizeof(kvm_create_device));
  EXPECT_EQ(sizeof(uapi::DeviceAttr), sizeof(kvm_device_attr));
}

}  // namespace
}  // namespace lockstep::mshv
