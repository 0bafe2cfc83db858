// lockstep: executable specifications run in lockstep with real implementations.
//   lockstep replay FILE            program or fuzz input, model and target side by side
//   lockstep run mshv --seconds N   bounded differential campaign with a summary table
//   lockstep corpus build|check     readable programs <-> binary fuzz inputs
//   lockstep fmt [--check] FILE...  rewrite programs in canonical form (`-`: stdin -> stdout)
//   lockstep profiles [PROTOCOL]    every profile, one line each
//   lockstep mutants [--json]       the impl mutants `--impl-mutant` / LOCKSTEP_IMPL_MUTANT select
//   lockstep prove [--protocol mshv] invariants of the model by k-induction, every profile
//   lockstep peer kvm [--profile P] the MSHV model against the real kvm-vfio device
//   lockstep peer dpdk [--profile P] the vhost-user model against DPDK's librte_vhost
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include "peers/dpdk/dpdk_campaign.h"
#include "peers/kvm/kvm_campaign.h"
#include "tools/bindings.h"
#include "tools/commands.h"
#include "tools/exit_codes.h"
#include "tools/prove.h"

namespace {

int run_cli(int argc, char** argv);

}  // namespace

// Every error ends in a documented exit code (tools/exit_codes.h), never in an abort.
int main(int argc, char** argv) {
  try {
    return run_cli(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "lockstep: error: " << e.what() << "\n";
    return lockstep::tools::kUsage;
  }
}

namespace {

int run_cli(int argc, char** argv) {
  using namespace lockstep::tools;
  CLI::App app{
      "lockstep: executable specifications of kernel and virtualisation interfaces, "
      "run in lockstep with real implementations"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("lockstep ") + LOCKSTEP_VERSION);
  const auto protocols = CLI::IsMember({"mshv", "vhost"});

  ReplayOptions replay_options;
  auto* replay_cmd = app.add_subcommand("replay", "replay a program (.txt) or fuzz input");
  replay_cmd->add_option("file", replay_options.path, "program or fuzz input")->required();
  replay_cmd
      ->add_option("--protocol", replay_options.protocol,
                   "mshv | vhost (default: the program header, or the fuzz input's path; "
                   "otherwise both)")
      ->check(protocols);
  replay_cmd->add_option("--profile", replay_options.profile, "override the trace's profile");
  std::string replay_target = "impl";
  replay_cmd
      ->add_option("--target", replay_target,
                   "impl (the real implementation, default) | model (the model alone, any "
                   "profile: e.g. a proof counterexample under its negative variant)")
      ->check(CLI::IsMember({"impl", "model"}));
  replay_cmd->add_flag("--json", replay_options.json,
                       "one JSON document (docs/lockstep-output.schema.json)");

  // One impl mutant for replay and run (`lockstep mutants`); LOCKSTEP_IMPL_MUTANT is the default.
  const char* env_mutant = std::getenv("LOCKSTEP_IMPL_MUTANT");
  std::string impl_mutant = env_mutant ? env_mutant : "";
  const char* mutant_help =
      "run a deliberately broken impl (`lockstep mutants`; default: $LOCKSTEP_IMPL_MUTANT)";
  replay_cmd->add_option("--impl-mutant", impl_mutant, mutant_help);

  CampaignOptions campaign;
  auto* run_cmd =
      app.add_subcommand("run", "bounded differential campaign: corpus replay + random inputs");
  run_cmd->add_option("protocol", campaign.protocol, "mshv | vhost")->required()->check(protocols);
  run_cmd->add_option("--seconds", campaign.seconds, "random phase length")
      ->check(CLI::NonNegativeNumber);
  run_cmd->add_option("--seed", campaign.seed, "random seed");
  run_cmd->add_option("--corpus", campaign.corpus_root,
                      "corpus root (default: ./corpus, else the project's)");
  run_cmd->add_option("--findings", campaign.findings_dir, "where diverging inputs are written");
  run_cmd->add_option("--impl-mutant", impl_mutant, mutant_help);
  run_cmd->add_flag("--json", campaign.json,
                    "one JSON document (docs/lockstep-output.schema.json)");

  bool mutants_json = false, mutants_markdown = false;
  auto* mutants_cmd = app.add_subcommand(
      "mutants", "list the impl mutants that --impl-mutant and LOCKSTEP_IMPL_MUTANT select");
  mutants_cmd->add_flag("--json", mutants_json,
                        "[{\"protocol\",\"name\",\"summary\",\"field\"}, ...]");
  mutants_cmd->add_flag("--markdown", mutants_markdown, "the table of docs/mutants.md")
      ->excludes(mutants_cmd->get_option("--json"));

  std::string corpus_root;
  auto* corpus_cmd = app.add_subcommand("corpus", "readable programs <-> binary fuzz inputs");
  corpus_cmd->require_subcommand(1);
  auto* build_cmd = corpus_cmd->add_subcommand(
      "build", "write corpus/<name>/*.bin from corpus/programs/<name>/*.txt");
  auto* check_cmd =
      corpus_cmd->add_subcommand("check", "verify every program has an up-to-date twin");
  corpus_cmd->add_option("--root", corpus_root,
                         "corpus root (default: ./corpus, else the project's)");
  bool corpus_json = false;
  corpus_cmd->add_flag("--json", corpus_json,
                       "one JSON document (docs/lockstep-output.schema.json)");
  build_cmd->fallthrough();  // `corpus check --root X` as well as `corpus --root X check`
  check_cmd->fallthrough();

  std::vector<std::string> fmt_files;
  bool fmt_check = false;
  auto* fmt_cmd = app.add_subcommand("fmt", "rewrite programs in canonical form");
  fmt_cmd->add_option("files", fmt_files, "programs (.txt); - for stdin -> stdout")->required();
  fmt_cmd->add_flag("--check", fmt_check, "write nothing; exit 1 if a file is not canonical");

  std::string profiles_protocol;
  auto* profiles_cmd = app.add_subcommand("profiles", "list every profile, one line each");
  profiles_cmd->add_option("protocol", profiles_protocol, "mshv | vhost (default: both)")
      ->check(protocols);

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
  peer_cmd->add_option("--expectations", peer.expectations,
                       "the known disagreements (default: peers/<peer>/expectations.txt)");
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

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 prints the message; its own codes (105, 106, 109, ...) all mean bad usage.
    return app.exit(e) == 0 ? kOk : kUsage;
  }

  if (*prove_cmd) return prove(prove_options);

  if (*peer_cmd) {
    if (peer_type_map) peer.type_map = true;
    if (peer_no_type_map) peer.type_map = false;
    return peer_name == "dpdk" ? lockstep::peers::dpdk::run_dpdk_peer(peer)
                               : lockstep::peers::kvm::run_kvm_peer(peer);
  }

  if (*mutants_cmd) return list_mutants(mutants_json, mutants_markdown);
  campaign.impl_mutant = replay_options.impl_mutant = impl_mutant;
  if (*replay_cmd) {
    replay_options.model_only = replay_target == "model";
    return replay(replay_options);
  }
  if (*run_cmd) return run_campaign(campaign);
  if (*corpus_cmd)
    return corpus_build(corpus_root.empty() ? default_corpus_root() : corpus_root,
                        check_cmd->parsed() && !build_cmd->parsed(), corpus_json);
  if (*fmt_cmd) return fmt(fmt_files, fmt_check);
  if (*profiles_cmd) return list_profiles(profiles_protocol);
  return kUsage;
}

}  // namespace
