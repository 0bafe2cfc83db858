// `lockstep repro FILE --peer P`: one standalone C file that replays a lockstep program against a
// real peer and prints, after each op, what the model says (under the spec and under the peer's
// profile, computed here and embedded as data) next to what the peer did. The C file needs
// nothing but libc and the kernel headers: users attach it to an upstream bug report.
#pragma once
#include <cstdint>
#include <string>

#include "core/mshv/ops.h"
#include "core/vhost/ops.h"
#include "peers/kvm/mapping.h"

namespace lockstep::tools {

struct ReproOptions {
  std::string path;     // a program (.txt) or a fuzz input, as `lockstep replay` reads it
  std::string peer;     // dpdk | libvhost-user | kvm
  std::string out;      // "" = stdout
  std::string profile;  // the peer's profile column; "" = the peer's own (dpdk-22.11, kvm, ...)
};
// 0 written, 2 usage or unreadable/malformed input (FILE:LINE:COL), or a program with an op the
// peer cannot take.
int repro(const ReproOptions& options);

// The C reproducer of a vhost-user trace for a back-end process peer: its expectations under
// `spec` and `peer_profile` (vhost profile names). `source` names the program in the file's
// header comment; a header size above `refused_at_header` is refused by the peer without reading
// on (backend::WireRules). The trace must hold no op the peer cannot take
// (backend::first_unsupported).
std::string vhost_reproducer(const vhost::Trace& trace, const std::string& peer_profile,
                             const std::string& source, uint32_t refused_at_header);

// The C reproducer of an MSHV trace on KVM's kvm-vfio device: its errno expectations under the
// trace's own profile and under `peer_profile` (mshv profile names); the ops reach KVM in the
// numbers `vocabulary` gives (peers/kvm/mapping.h). The trace must hold no op KVM cannot express
// (kvm::first_unsupported).
std::string kvm_reproducer(const mshv::Trace& trace, peers::kvm::Vocabulary vocabulary,
                           const std::string& peer_profile, const std::string& source);

}  // namespace lockstep::tools
