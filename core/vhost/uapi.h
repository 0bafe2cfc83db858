// The vhost-user wire numbers, defined once. Source: QEMU docs/interop/vhost-user.rst ("Message
// specification", "Front-end message types", "Protocol features"), the DPDK postcopy series
// (lib/vhost/vhost_user.h enum VhostUserRequest, VHOST_USER_POSTCOPY_ADVISE = 28), and for the
// kernel-shared layouts <linux/vhost_types.h> and <linux/userfaultfd.h>.
// tests/vhost/codec_test.cc checks every number here against the series' patch and the system
// headers.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace lockstep::vhost::uapi {

// ---- header (vhost-user.rst "Message Specification"; rules W1, W8) --------------------------
constexpr size_t kHeaderSize = 12;  // u32 request, u32 flags, u32 size
constexpr uint32_t kVersion = 0x1;  // flags bits 0-1: "currently 0x01"
constexpr uint32_t kVersionMask = 0x3;
constexpr uint32_t kReply = 0x4;                     // bit 2: set on each reply from the back-end
constexpr uint32_t kNeedReply = 0x8;                 // bit 3: need_reply (REPLY_ACK)
constexpr uint32_t kKnownFlags = 0xf;                // any bit above 0x8 is reserved (rule W2)
constexpr uint32_t kReplyFlags = kVersion | kReply;  // exactly 0x5 on every reply (W8)
constexpr uint32_t kMaxPayload = 4096;               // rule W3 (rust-vmm MAX_MSG_SIZE)
constexpr size_t kMaxFds = 8;                        // rule W5 ("at most 8 descriptors")
constexpr uint32_t kMaxRegions = 8;                  // VHOST_MEMORY_BASELINE_NREGIONS
constexpr uint64_t kPageSize = 0x1000;               // VHOST_PAGE_SIZE

// ---- front-end request ids (vhost-user.rst, spec revision @005e7d1e: 1-43) -----------------
enum Request : uint32_t {
  kNone = 0,
  kGetFeatures = 1,
  kSetFeatures = 2,
  kSetOwner = 3,
  kResetOwner = 4,
  kSetMemTable = 5,
  kSetLogBase = 6,
  kSetLogFd = 7,
  kSetVringNum = 8,
  kSetVringAddr = 9,
  kSetVringBase = 10,
  kGetVringBase = 11,
  kSetVringKick = 12,
  kSetVringCall = 13,
  kSetVringErr = 14,
  kGetProtocolFeatures = 15,
  kSetProtocolFeatures = 16,
  kGetQueueNum = 17,
  kSetVringEnable = 18,
  kSendRarp = 19,
  kNetSetMtu = 20,
  kSetBackendReqFd = 21,  // old name SET_SLAVE_REQ_FD
  kIotlbMsg = 22,
  kSetVringEndian = 23,
  kGetConfig = 24,
  kSetConfig = 25,
  kCreateCryptoSession = 26,
  kCloseCryptoSession = 27,
  kPostcopyAdvise = 28,
  kPostcopyListen = 29,
  kPostcopyEnd = 30,
  kGetInflightFd = 31,
  kSetInflightFd = 32,
  kGpuSetSocket = 33,
  kResetDevice = 34,
  kVringKick = 35,
  kGetMaxMemSlots = 36,
  kAddMemReg = 37,
  kRemMemReg = 38,
  kSetStatus = 39,
  kGetStatus = 40,
  kGetSharedObject = 41,
  kSetDeviceStateFd = 42,
  kCheckDeviceState = 43,
};
constexpr uint32_t kMaxRequest = 43;

// "POSTCOPY_ADVISE" for 28 (the name without the VHOST_USER_ prefix); "" for an unknown id.
constexpr std::string_view request_name(uint32_t request) {
  constexpr std::string_view kNames[kMaxRequest + 1] = {
      "NONE",
      "GET_FEATURES",
      "SET_FEATURES",
      "SET_OWNER",
      "RESET_OWNER",
      "SET_MEM_TABLE",
      "SET_LOG_BASE",
      "SET_LOG_FD",
      "SET_VRING_NUM",
      "SET_VRING_ADDR",
      "SET_VRING_BASE",
      "GET_VRING_BASE",
      "SET_VRING_KICK",
      "SET_VRING_CALL",
      "SET_VRING_ERR",
      "GET_PROTOCOL_FEATURES",
      "SET_PROTOCOL_FEATURES",
      "GET_QUEUE_NUM",
      "SET_VRING_ENABLE",
      "SEND_RARP",
      "NET_SET_MTU",
      "SET_BACKEND_REQ_FD",
      "IOTLB_MSG",
      "SET_VRING_ENDIAN",
      "GET_CONFIG",
      "SET_CONFIG",
      "CREATE_CRYPTO_SESSION",
      "CLOSE_CRYPTO_SESSION",
      "POSTCOPY_ADVISE",
      "POSTCOPY_LISTEN",
      "POSTCOPY_END",
      "GET_INFLIGHT_FD",
      "SET_INFLIGHT_FD",
      "GPU_SET_SOCKET",
      "RESET_DEVICE",
      "VRING_KICK",
      "GET_MAX_MEM_SLOTS",
      "ADD_MEM_REG",
      "REM_MEM_REG",
      "SET_STATUS",
      "GET_STATUS",
      "GET_SHARED_OBJECT",
      "SET_DEVICE_STATE_FD",
      "CHECK_DEVICE_STATE",
  };
  return request <= kMaxRequest ? kNames[request] : std::string_view{};
}

// ---- feature bits (vhost-user.rst "Feature bits"; <linux/vhost_types.h>, <linux/virtio_*.h>) --
constexpr unsigned kFProtocolFeatures = 30;  // VHOST_USER_F_PROTOCOL_FEATURES (GET_FEATURES bit)
constexpr unsigned kFLogAll = 26;            // VHOST_F_LOG_ALL
constexpr unsigned kFVersion1 = 32;          // VIRTIO_F_VERSION_1
constexpr unsigned kFRingIndirectDesc = 28;  // VIRTIO_RING_F_INDIRECT_DESC
constexpr unsigned kFRingEventIdx = 29;      // VIRTIO_RING_F_EVENT_IDX
constexpr unsigned kFNetMrgRxbuf = 15;       // VIRTIO_NET_F_MRG_RXBUF

// Protocol feature bits (vhost-user.rst "Protocol features").
constexpr unsigned kPfMq = 0;
constexpr unsigned kPfLogShmfd = 1;
constexpr unsigned kPfRarp = 2;
constexpr unsigned kPfReplyAck = 3;
constexpr unsigned kPfMtu = 4;
constexpr unsigned kPfBackendReq = 5;  // old name SLAVE_REQ
constexpr unsigned kPfCrossEndian = 6;
constexpr unsigned kPfCryptoSession = 7;
constexpr unsigned kPfPagefault = 8;
constexpr unsigned kPfConfig = 9;
constexpr unsigned kPfBackendSendFd = 10;
constexpr unsigned kPfHostNotifier = 11;
constexpr unsigned kPfInflightShmfd = 12;
constexpr unsigned kPfResetDevice = 13;
constexpr unsigned kPfInbandNotifications = 14;
constexpr unsigned kPfConfigureMemSlots = 15;
constexpr unsigned kPfStatus = 16;
constexpr unsigned kPfXenMmap = 17;
constexpr unsigned kPfSharedObject = 18;
constexpr unsigned kPfDeviceState = 19;
constexpr unsigned kPfGetVringBaseInflight = 20;

constexpr uint64_t bit(unsigned n) {
  return uint64_t{1} << n;
}

// What our back-end offers (rules N1, N3). The impl and the `spec` profile both use these.
constexpr uint64_t kOfferedFeatures = bit(kFProtocolFeatures) | bit(kFLogAll) | bit(kFVersion1) |
                                      bit(kFNetMrgRxbuf) | bit(kFRingIndirectDesc) |
                                      bit(kFRingEventIdx);
static_assert(kOfferedFeatures == 0x174008000);
constexpr uint64_t kOfferedProtocolFeatures = bit(kPfMq) | bit(kPfLogShmfd) | bit(kPfRarp) |
                                              bit(kPfReplyAck) | bit(kPfBackendReq) |
                                              bit(kPfPagefault) | bit(kPfStatus);
static_assert(kOfferedProtocolFeatures == 0x1012f);
constexpr uint64_t kQueueNum = 1;               // GET_QUEUE_NUM: queue *pairs*, as QEMU reads it
constexpr uint64_t kRingCount = 2 * kQueueNum;  // one rx + one tx ring; index >= 2 -> E1

// DPDK 22.11 on this machine (docs/notes/dpdk-probe-this-machine.md "Wire facts").
constexpr uint64_t kDpdkFeatures = 0xd7c66ffcb;
constexpr uint64_t kDpdkProtocolFeatures = 0x10dbf;
constexpr uint64_t kDpdkQueueNum = 0x80;

// ---- payloads (vhost-user.rst "Message types"; <linux/vhost_types.h>) ----------------------
struct VringState {  // struct vhost_vring_state
  uint32_t index;
  uint32_t num;
};
static_assert(sizeof(VringState) == 8);

struct VringAddr {  // struct vhost_vring_addr
  uint32_t index;
  uint32_t flags;  // bit 0: VHOST_VRING_F_LOG
  uint64_t desc_user_addr;
  uint64_t used_user_addr;
  uint64_t avail_user_addr;
  uint64_t log_guest_addr;
};
static_assert(sizeof(VringAddr) == 40);

struct MemoryRegion {  // VhostUserMemoryRegion (vhost_memory_region with mmap_offset last)
  uint64_t guest_phys_addr;
  uint64_t memory_size;
  uint64_t userspace_addr;  // front-end's; in the postcopy reply the back-end's mapping base
  uint64_t mmap_offset;
};
static_assert(sizeof(MemoryRegion) == 32);

struct MemoryHeader {  // VhostUserMemory without the region array
  uint32_t nregions;
  uint32_t padding;
};
static_assert(sizeof(MemoryHeader) == 8);
constexpr size_t mem_table_size(size_t nregions) {
  return sizeof(MemoryHeader) + nregions * sizeof(MemoryRegion);
}

struct Log {  // VhostUserLog (SET_LOG_BASE)
  uint64_t mmap_size;
  uint64_t mmap_offset;
};
static_assert(sizeof(Log) == 16);

// SET_VRING_KICK / CALL / ERR u64: bits 0-7 ring index, bit 8 "invalid FD" (no fd attached).
constexpr uint64_t kVringIndexMask = 0xff;
constexpr uint64_t kVringNofdMask = uint64_t{1} << 8;

// ---- userfaultfd (<linux/userfaultfd.h>) -----------------------------------------------------
constexpr uint64_t kUffdApi = 0xAA;                 // UFFD_API
constexpr uint64_t kUffdioRegisterModeMissing = 1;  // UFFDIO_REGISTER_MODE_MISSING
constexpr uint32_t kUffdioApiNr = 0x3F;             // _UFFDIO_API
constexpr uint32_t kUffdioRegisterNr = 0x00;        // _UFFDIO_REGISTER

// What a target writes over the page part of each non-zero userspace_addr of a postcopy
// SET_MEM_TABLE reply (core/vhost/ops.h normalise()): the model cannot predict mmap bases, only
// their relations (X7). An address that breaks them is written as one of the values after it,
// which the model never gives, so the comparison diverges on reply.payload.
constexpr uint64_t kNormalisedAddr = 0x1000;   // base page-aligned, mappings disjoint
constexpr uint64_t kMisalignedAddr = 0x2000;   // address - mmap_offset is not a page boundary
constexpr uint64_t kOverlappingAddr = 0x3000;  // its mapping overlaps another region's

}  // namespace lockstep::vhost::uapi
