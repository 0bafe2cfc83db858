// DPDK 22.11's librte_vhost as a back-end process peer: the dpdk_vhost_peer program
// (peers/dpdk/dpdk_vhost_peer.c) run by the shared BackendProcess, its traces run by the shared
// BackendTarget (peers/vhost/backend_target.h says what is compared and what is skipped). What
// is DPDK's own is here: how the process is started (EAL --file-prefix, "ready" on stdout, ~1.3 s
// to start, so one process is kept across traces), how DPDK cuts messages, and the signatures'
// name `dpdk-peer`.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "core/vhost/codec.h"
#include "core/vhost/ops.h"
#include "peers/skip.h"
#include "peers/vhost/backend_campaign.h"
#include "peers/vhost/backend_process.h"
#include "peers/vhost/backend_target.h"

namespace lockstep::peers::dpdk {

using backend::count_fds;
using backend::ends_in_partial_header;
using backend::FdCounts;
using backend::to_string;
using DpdkEnvironment = backend::BackendEnvironment;

// Divergence signatures read "lockstep: divergence dpdk-peer/OP/FIELD".
struct DpdkProtocol : backend::BackendProtocol {
  static constexpr const char* kName = "dpdk-peer";
};

// DPDK read_vhost_message: exactly 12 header bytes, then `size` payload bytes with one blocking
// read() (which stalls DPDK's only event thread when the write does not carry them); a size above
// 4096 is refused at the header ("invalid msg size") without reading on; fewer than 12 header
// bytes in one read close the connection.
inline constexpr backend::WireRules kWire{.refused_at_header = 4096, .partial_header_closes = true};

std::optional<Skip> first_unsupported(const vhost::Trace& trace);
std::optional<std::string> unsupported(const vhost::Op& op);

// binary: LOCKSTEP_DPDK_PEER from the environment, else the path compiled in, else "".
std::string default_peer_binary();
DpdkEnvironment probe_dpdk_environment();

// How dpdk_vhost_peer is started. `extra`: more arguments for the peer (the negative test's
// --leak-fd-per-connection). eal = false runs another back-end with the same conventions
// (`--socket PATH`, "ready" on stdout) without DPDK's --file-prefix: bench/bench_vhost_dpdk.cc
// runs lockstep-vhost-backend so, to compare both under one process handling.
backend::BackendSpec dpdk_spec(std::string binary, std::vector<std::string> extra = {},
                               bool eal = true);

// The dpdk_vhost_peer process (throws std::runtime_error with the reason when it cannot start).
class DpdkPeer : public backend::BackendProcess {
 public:
  explicit DpdkPeer(std::string binary = default_peer_binary(), std::vector<std::string> extra = {},
                    bool eal = true)
      : BackendProcess(dpdk_spec(std::move(binary), std::move(extra), eal)) {}
};

}  // namespace lockstep::peers::dpdk
