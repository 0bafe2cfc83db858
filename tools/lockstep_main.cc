// lockstep: executable specifications run in lockstep with real implementations.
//   lockstep replay FILE            program or fuzz input, model and target side by side
//   lockstep run mshv --seconds N   bounded differential campaign with a summary table
//   lockstep corpus build|check     readable programs <-> binary fuzz inputs
//   lockstep fmt FILE...            rewrite programs in canonical form
//   lockstep prove [--protocol mshv] invariants of the model by k-induction, every profile
//   lockstep peer kvm [--profile P] the MSHV model against the real kvm-vfio device
//   lockstep peer dpdk [--profile P] the vhost-user model against DPDK's librte_vhost
#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <iterator>

#include "peers/dpdk/dpdk_campaign.h"
#include "peers/kvm/kvm_campaign.h"
#include "tools/bindings.h"
#include "tools/commands.h"
#include "tools/prove.h"

int main(int argc, char** argv) {
  using namespace lockstep::tools;
  CLI::App app{
      "lockstep: executable specifications of kernel and virtualisation interfaces, "
      "run in lockstep with real implementations"};
  app.require_subcommand(1);

  std::string replay_file, replay_protocol, replay_profile;
  auto* replay_cmd = app.add_subcommand("replay", "replay a program (.txt) or fuzz input");
  replay_cmd->add_option("file", replay_file, "program or fuzz input")
      ->required()
      ->check(CLI::ExistingFile);
  replay_cmd->add_option("--protocol", replay_protocol, "mshv (default: from the file)");
  replay_cmd->add_option("--profile", replay_profile, "override the trace's profile");

  CampaignOptions campaign;
  auto* run_cmd =
      app.add_subcommand("run", "bounded differential campaign: corpus replay + random inputs");
  run_cmd->add_option("protocol", campaign.protocol, "mshv")->required();
  run_cmd->add_option("--seconds", campaign.seconds, "random phase length")
      ->check(CLI::NonNegativeNumber);
  run_cmd->add_option("--seed", campaign.seed, "random seed");
  run_cmd->add_option("--corpus", campaign.corpus_root, "corpus root");
  run_cmd->add_option("--findings", campaign.findings_dir, "where diverging inputs are written");

  std::string corpus_root = "corpus";
  auto* corpus_cmd = app.add_subcommand("corpus", "readable programs <-> binary fuzz inputs");
  corpus_cmd->require_subcommand(1);
  auto* build_cmd = corpus_cmd->add_subcommand(
      "build", "write corpus/<name>/*.bin from corpus/programs/<name>/*.txt");
  auto* check_cmd =
      corpus_cmd->add_subcommand("check", "verify every program has an up-to-date twin");
  corpus_cmd->add_option("--root", corpus_root, "corpus root");

  std::vector<std::string> fmt_files;
  auto* fmt_cmd = app.add_subcommand("fmt", "rewrite programs in canonical form");
  fmt_cmd->add_option("files", fmt_files)->required()->check(CLI::ExistingFile);

  lockstep::peers::PeerOptions peer;
  std::string peer_name;
  bool peer_type_map = false, peer_no_type_map = false;
  auto* peer_cmd = app.add_subcommand(
      "peer",
      "run the model against a real third-party implementation (kvm: /dev/kvm; dpdk: "
      "librte_vhost through dpdk_vhost_peer)");
  peer_cmd->add_option("peer", peer_name, "kvm or dpdk")
      ->required()
      ->check(CLI::IsMember({"kvm", "dpdk"}));
  peer_cmd->add_option("--profile", peer.profile,
                       "kvm: kvm (default), mshv-v1 or mshv-strict; dpdk: dpdk-22.11 (default) "
                       "or spec");
  peer_cmd->add_option("--seconds", peer.seconds, "generated-trace phase length")
      ->check(CLI::NonNegativeNumber);
  peer_cmd->add_option("--seed", peer.seed, "random seed");
  peer_cmd->add_option("--corpus", peer.corpus_root, "corpus root");
  peer_cmd->add_option("--report", peer.report_path, "write a markdown report here");
  peer_cmd->add_option("--findings", peer.findings_dir,
                       "where minimal disagreements go (default: findings/<peer>)");
  peer_cmd->add_flag("--type-map", peer_type_map,
                     "kvm: swap MSHV and KVM numbers (type 0<->4, ...); default for mshv-* "
                     "profiles");
  peer_cmd->add_flag("--no-type-map", peer_no_type_map, "kvm: pass type and request numbers as-is");

  ProveOptions prove_options;
  auto* prove_cmd = app.add_subcommand(
      "prove", "k-induction / BMC of the model's invariants, every profile and mutant");
  prove_cmd->add_option("--protocol", prove_options.protocol, "mshv | vhost | all (default)");
  prove_cmd->add_option("--profile", prove_options.profile, "one profile (default: all)");
  prove_cmd->add_flag("--json", prove_options.json, "JSON for CI");
  prove_cmd->add_option("--emit-corpus", prove_options.emit_corpus,
                        "write counterexamples as <invariant>__<profile>.txt/.bin here");
  prove_cmd->add_option("--corpus", prove_options.corpus_root,
                        "corpus root of the vacuity sample (default: corpus)");

  CLI11_PARSE(app, argc, argv);

  if (*prove_cmd) return prove(prove_options);

  if (*peer_cmd) {
    if (peer_type_map) peer.type_map = true;
    if (peer_no_type_map) peer.type_map = false;
    return peer_name == "dpdk" ? lockstep::peers::dpdk::run_dpdk_peer(peer)
                               : lockstep::peers::kvm::run_kvm_peer(peer);
  }

  if (*replay_cmd) return replay(replay_file, replay_protocol, replay_profile);
  if (*run_cmd) return run_campaign(campaign);
  if (*corpus_cmd) return corpus_build(corpus_root, check_cmd->parsed() && !build_cmd->parsed());
  if (*fmt_cmd) {
    for (const auto& file : fmt_files) {
      std::ifstream in(file);
      std::string text{std::istreambuf_iterator<char>(in), {}};
      std::string protocol = text.starts_with("# lockstep vhost") ? "vhost" : "mshv";
      std::string out = with_binding(
          protocol, [&](auto b) { return decltype(b)::print(decltype(b)::parse(text)); });
      std::ofstream(file) << out;
    }
  }
  return 0;
}
