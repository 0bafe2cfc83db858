#include "model/vhost/requests.h"

#include "core/table.h"

namespace lockstep::vhost {

std::string_view to_string(PayloadRule p) {
  switch (p) {
    case PayloadRule::Empty:
      return "0";
    case PayloadRule::U64:
      return "8 (u64)";
    case PayloadRule::VringState:
      return "8 (vring state)";
    case PayloadRule::VringAddr:
      return "40 (vring addr)";
    case PayloadRule::Log:
      return "16 (log)";
    case PayloadRule::MemTable:
      return "8 + 32·n, 1 ≤ n ≤ 8";
    case PayloadRule::Postcopy:
      return "0 (P3)";
  }
  return "?";
}

std::string_view to_string(FdRule f) {
  switch (f) {
    case FdRule::None:
      return "0";
    case FdRule::One:
      return "1";
    case FdRule::OnePerRegion:
      return "n";
    case FdRule::OneUnlessNofd:
      return "1, or 0 with NOFD (bit 8)";
  }
  return "?";
}

std::string_view to_string(ReplyRule r) {
  switch (r) {
    case ReplyRule::AckIfAsked:
      return "R2 ack with NEED_REPLY";
    case ReplyRule::U64:
      return "u64";
    case ReplyRule::VringState:
      return "vring state";
    case ReplyRule::Uffd:
      return "size 0 + the uffd";
    case ReplyRule::TableWhenListening:
      return "the table while listening (P6), else R2";
  }
  return "?";
}

std::string_view to_string(HeldFd h) {
  switch (h) {
    case HeldFd::None:
      return "—";
    case HeldFd::Regions:
      return "region fds";
    case HeldFd::LogBase:
      return "log base fd";
    case HeldFd::LogFd:
      return "log fd";
    case HeldFd::RingKick:
      return "ring kick fd";
    case HeldFd::RingCall:
      return "ring call fd";
    case HeldFd::RingErr:
      return "ring err fd";
    case HeldFd::BackendReq:
      return "backend-req fd";
    case HeldFd::Uffd:
      return "uffd";
  }
  return "?";
}

std::string_view to_string(ProofClass c) {
  switch (c) {
    case ProofClass::Generic:
      return "generic";
    case ProofClass::SetProtocolFeatures:
      return "set-protocol-features";
    case ProofClass::SetOwner:
      return "set-owner";
    case ProofClass::ResetOwner:
      return "reset-owner";
    case ProofClass::MemTable:
      return "mem-table";
    case ProofClass::Advise:
      return "advise";
    case ProofClass::Listen:
      return "listen";
    case ProofClass::End:
      return "end";
  }
  return "?";
}

std::string request_table_markdown() {
  Table t{"request", "payload (W7)", "fds (W6)", "reply",
          "fd held", "proof class",  "handler",  "rule"};
  for (const RequestRule& r : kRequestRules)
    t.row({std::string(uapi::request_name(r.request)), std::string(to_string(r.payload)),
           std::string(to_string(r.fds)), std::string(to_string(r.reply)),
           std::string(to_string(r.held)), std::string(to_string(r.proof)),
           "`" + std::string(r.handler) + "`", std::string(r.rule)});
  return t.markdown();
}

}  // namespace lockstep::vhost
