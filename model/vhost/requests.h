// The vhost-user request table (model/vhost/requests.def) as data: what each handled request
// must carry (W6, W7), what it answers (R1, R2), the fd it holds, its request class in the proof
// encoding and the rule that defines it. The model dispatches through the .def itself, so a row
// without a handler does not compile; everything else reads kRequestRules.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "core/vhost/uapi.h"

namespace lockstep::vhost {

// W7: the payload a request must have.
enum class PayloadRule : uint8_t {
  Empty,       // size 0
  U64,         // a u64
  VringState,  // struct vhost_vring_state
  VringAddr,   // struct vhost_vring_addr
  Log,         // VhostUserLog
  MemTable,    // 8 + 32 n, n = the payload's nregions, 1 <= n <= 8
  Postcopy,    // P3: "N/A", taken as empty where the profile checks it
};

// W6: the fds a request must carry.
enum class FdRule : uint8_t {
  None,
  One,
  OnePerRegion,   // SET_MEM_TABLE: nregions
  OneUnlessNofd,  // SET_VRING_KICK/CALL/ERR: none when bit 8 of the u64 is set
};

// R1/R2: the answer under the `spec` profile (profiles change some, model/vhost/profiles.h).
enum class ReplyRule : uint8_t {
  AckIfAsked,          // R2: u64 0/1 only with NEED_REPLY
  U64,                 // R1: a u64 body
  VringState,          // R1: {index, num}
  Uffd,                // P4: size 0 and the userfaultfd
  TableWhenListening,  // P6: the table while listening, else R2
};

// The fd a request leaves held on success (the resource it takes; the older one is released).
enum class HeldFd : uint8_t {
  None,
  Regions,  // one per region (M2/M3)
  LogBase,
  LogFd,
  RingKick,
  RingCall,
  RingErr,
  BackendReq,
  Uffd,
};

// The request's class in the Z3 encoding (proofs/vhost/encoding.h): Generic requests share one
// abstract action; the others have their own because the invariants talk about them.
enum class ProofClass : uint8_t {
  Generic,
  SetProtocolFeatures,
  SetOwner,
  ResetOwner,
  MemTable,
  Advise,
  Listen,
  End,
};

struct RequestRule {
  uint32_t request;
  PayloadRule payload;
  FdRule fds;
  ReplyRule reply;
  HeldFd held;
  ProofClass proof;
  std::string_view handler;  // the vhost::Model member
  std::string_view rule;     // docs/vhost-backend-rules.md
};

inline constexpr RequestRule kRequestRules[] = {
#define VHOST_REQUEST(id, payload, fds, reply, held, proof, handler, rule) \
  {uapi::id,     PayloadRule::payload, FdRule::fds, ReplyRule::reply,      \
   HeldFd::held, ProofClass::proof,    #handler,    rule},
#include "model/vhost/requests.def"
#undef VHOST_REQUEST
};

// The row of a handled request; nullptr for a request the back-end does not handle (E2).
constexpr const RequestRule* find_request(uint32_t request) {
  for (const RequestRule& r : kRequestRules)
    if (r.request == request) return &r;
  return nullptr;
}

std::string_view to_string(PayloadRule p);
std::string_view to_string(FdRule f);
std::string_view to_string(ReplyRule r);
std::string_view to_string(HeldFd h);
std::string_view to_string(ProofClass c);

// The table as the markdown that docs/vhost-backend-rules.md embeds between its
// "generated: request table" markers (tests/vhost/request_table_test.cc keeps them equal).
std::string request_table_markdown();

}  // namespace lockstep::vhost
