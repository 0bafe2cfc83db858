// `lockstep repro`: reads the program (or fuzz input) as `lockstep replay` does, refuses an op the
// peer cannot take (FILE:LINE:COL), and writes the C reproducer (tools/repro/vhost.cc).
#include <fstream>
#include <iostream>

#include "peers/dpdk/dpdk_campaign.h"
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
  throw InputError("--peer " + name + ": unknown peer (dpdk, libvhost-user)");
}

std::string generate(const InputFile& file, const ReproOptions& o) {
  if (file.text && file.protocol != VhostBinding::kName)
    throw InputError(file.path + ": a " + file.protocol + " program; --peer " + o.peer +
                     " runs vhost-user programs");
  const VhostPeer peer = vhost_peer(o.peer);
  vhost::Trace trace =
      file.text ? VhostBinding::parse(file.bytes)
                : VhostBinding::decode(
                      {reinterpret_cast<const uint8_t*>(file.bytes.data()), file.bytes.size()});
  const std::string profile = o.profile.empty() ? peer.profile : o.profile;
  if (!VhostBinding::has_profile(profile))
    throw InputError("--profile " + profile +
                     ": unknown vhost profile (valid: " + VhostBinding::profile_names() + ")");
  if (auto skip = peers::backend::first_unsupported(trace, peer.wire))
    throw InputError(file.path +
                     (file.text ? ":" + std::to_string(line_of(trace, skip->index)) + ":1" : "") +
                     ": op " + std::to_string(skip->index + 1) + " cannot be sent to " + o.peer +
                     ": " + skip->reason);
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
    std::cerr << "lockstep repro: wrote " << o.out << " (cc -std=c11 -o repro " << o.out
              << "; ./repro SOCKET [PID])\n";
    return kOk;
  } catch (const InputError& e) {
    error = e.what();
  } catch (const ParseError& e) {
    error = o.path + ":" + e.what();
  } catch (const std::exception& e) {
    error = o.path + ": " + e.what();
  }
  std::cerr << "lockstep repro: " << error << "\n";
  return kUsage;
}

}  // namespace lockstep::tools
