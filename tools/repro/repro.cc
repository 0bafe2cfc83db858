// `lockstep repro`: reads the program (or fuzz input) as `lockstep replay` does, refuses an op the
// peer cannot take (FILE:LINE:COL), and writes the C reproducer (tools/repro/vhost.cc for the
// vhost-user back-ends, tools/repro/kvm.cc for KVM).
#include <fstream>
#include <iostream>

#include "peers/dpdk/dpdk_campaign.h"
#include "peers/kvm/kvm_campaign.h"
#include "peers/libvhost-user/libvhost_user_campaign.h"
#include "tools/bindings.h"
#include "tools/exit_codes.h"
#include "tools/input_file.h"
#include "tools/repro/repro.h"

namespace lockstep::tools {
namespace {

// A back-end process peer: the profile that models it and how it cuts messages.
struct VhostPeer {
  const char* profile;
  peers::backend::WireRules wire;
};

VhostPeer vhost_peer(const std::string& name) {
  if (name == "dpdk") return {peers::dpdk::DpdkBinding::kInfo.profile, peers::dpdk::kWire};
  if (name == "libvhost-user")
    return {peers::libvhost_user::LibvhostUserBinding::kInfo.profile, peers::libvhost_user::kWire};
  throw InputError("--peer " + name + ": unknown peer (dpdk, libvhost-user, kvm)");
}

// "FILE:LINE:1: op N cannot be sent to PEER: why" (a fuzz input has no lines: "FILE: op N ...").
template <class Trace>
InputError cannot_take(const InputFile& file, const Trace& trace, const peers::Skip& skip,
                       const std::string& peer) {
  return InputError(
      file.path + (file.text ? ":" + std::to_string(line_of(trace, skip.index)) + ":1" : "") +
      ": op " + std::to_string(skip.index + 1) + " cannot be sent to " + peer + ": " + skip.reason);
}

// The trace a program or fuzz input holds, read by protocol B; a program of the other protocol
// is refused.
template <class B>
typename B::Trace read_trace(const InputFile& file, const std::string& peer) {
  if (file.text && file.protocol != B::kName)
    throw InputError(file.path + ": a " + file.protocol + " program; --peer " + peer + " runs " +
                     std::string(B::kName) + " programs");
  return trace_of<B>(file);
}

template <class B>
std::string peer_profile(const ReproOptions& o, const char* own) {
  const std::string profile = o.profile.empty() ? own : o.profile;
  require_profile<B>(profile);
  return profile;
}

std::string generate_kvm(const InputFile& file, const ReproOptions& o) {
  const mshv::Trace trace = read_trace<MshvBinding>(file, o.peer);
  const std::string profile = peer_profile<MshvBinding>(o, peers::kvm::KvmBinding::kInfo.profile);
  const peers::kvm::Vocabulary v = peers::kvm::vocabulary_for(trace.profile);
  if (auto skip = peers::kvm::first_unsupported(trace, v))
    throw cannot_take(file, trace, *skip, o.peer);
  return kvm_reproducer(trace, v, profile, file.path);
}

std::string generate(const InputFile& file, const ReproOptions& o) {
  if (o.peer == "kvm") return generate_kvm(file, o);
  const VhostPeer peer = vhost_peer(o.peer);
  const vhost::Trace trace = read_trace<VhostBinding>(file, o.peer);
  const std::string profile = peer_profile<VhostBinding>(o, peer.profile);
  if (auto skip = peers::backend::first_unsupported(trace, peer.wire))
    throw cannot_take(file, trace, *skip, o.peer);
  return vhost_reproducer(trace, profile, file.path, peer.wire.refused_at_header);
}

}  // namespace

int repro(const ReproOptions& o) {
  std::string error;
  try {
    const std::string c = generate(read_input(o.path), o);
    if (o.out.empty()) {
      std::cout << c;
      return kOk;
    }
    std::ofstream out(o.out, std::ios::binary | std::ios::trunc);
    if (!(out << c) || !out.flush()) throw InputError(o.out + ": cannot write the reproducer");
    std::cerr << "lockstep repro: wrote " << o.out << " (cc -std=c11 -o repro " << o.out << "; "
              << (o.peer == "kvm" ? "./repro" : "./repro SOCKET [PID]") << ")\n";
    return kOk;
  } catch (const std::exception&) {
    error = input_error_message(o.path);
  }
  std::cerr << "lockstep repro: " << error << "\n";
  return kUsage;
}

}  // namespace lockstep::tools
