// lockstep: executable specifications run in lockstep with real implementations.
//   lockstep replay FILE            program or fuzz input, model and target side by side
//   lockstep run mshv --seconds N   bounded differential campaign with a summary table
//   lockstep corpus build|check     readable programs <-> binary fuzz inputs
//   lockstep corpus to-gtest FILE   a finding as a GoogleTest case (tests/regressions/)
//   lockstep corpus min --protocol P DIR...  the smallest input set keeping the coverage
//   lockstep fmt [--check] FILE...  rewrite programs in canonical form (`-`: stdin -> stdout)
//   lockstep profiles [PROTOCOL]    every profile, one line each
//   lockstep mutants [--json]       the impl mutants `--impl-mutant` / LOCKSTEP_IMPL_MUTANT select
//   lockstep prove [--protocol mshv] invariants of the model by k-induction, every profile
//   lockstep peer kvm [--profile P] the MSHV model against the real kvm-vfio device
//   lockstep peer dpdk [--profile P] the vhost-user model against DPDK's librte_vhost
//   lockstep peer libvhost-user     the vhost-user model against libvhost-user (QSD)
//   lockstep summary FILE...        one screen from the --json documents of run, prove, peer
//   lockstep monitor --listen S --connect S  a vhost-user proxy checking both sides live
//   lockstep repro FILE --peer dpdk  a standalone C reproducer of a program against a peer
//   lockstep spec --protocol P --format md|json|dot  the model explored, as a document
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include "peers/dpdk/dpdk_campaign.h"
#include "peers/kvm/kvm_campaign.h"
#include "peers/libvhost-user/libvhost_user_campaign.h"
#include "tools/bindings.h"
#include "tools/commands.h"
#include "tools/exit_codes.h"
#include "tools/prove.h"
#include "tools/repro/repro.h"
#include "tools/summary.h"

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

using namespace lockstep::tools;
const char* const kJsonHelp = "one JSON document (docs/lockstep-output.schema.json)";
const char* const kSarifHelp =
    "also write the findings as SARIF 2.1.0 to FILE (tools/sarif.h; default: none)";

// A protocol's profiles for the help, from the registries `lockstep profiles` prints, so the help
// cannot fall behind them: every one, or only those a real implementation runs.
std::string profiles_of(std::string_view protocol, bool negative_variants) {
  return with_binding(protocol, [&](auto binding) {
    return decltype(binding)::profiles().names(negative_variants);
  });
}

// "mshv: a, b, ...; vhost: c, d, ...": every profile of both protocols.
std::string all_profiles() {
  return "mshv: " + profiles_of("mshv", true) + "; vhost: " + profiles_of("vhost", true);
}

// Every command's options and its CLI11 subcommand, filled by the add_* functions below.
struct Cli {
  ReplayOptions replay;
  std::string replay_target = "impl";
  std::string impl_mutant;  // --impl-mutant of replay and run; default $LOCKSTEP_IMPL_MUTANT
  CampaignOptions campaign;
  bool mutants_json = false, mutants_markdown = false;
  std::string corpus_root;
  bool corpus_json = false;
  std::vector<std::string> fmt_files;
  bool fmt_check = false;
  std::string profiles_protocol;
  lockstep::peers::PeerOptions peer;
  std::string peer_name;
  bool peer_type_map = false, peer_no_type_map = false;
  ProveOptions prove;
  ToGtestOptions to_gtest;
  CorpusMinOptions corpus_min;
  CLI::App *replay_cmd, *run_cmd, *mutants_cmd, *corpus_cmd, *build_cmd, *check_cmd, *fmt_cmd,
      *profiles_cmd, *peer_cmd, *prove_cmd, *to_gtest_cmd, *min_cmd;
  std::vector<std::string> summary_files;
  CLI::App* summary_cmd = nullptr;
  MonitorCliOptions monitor;
  CLI::App* monitor_cmd = nullptr;
  ReproOptions repro;
  CLI::App* repro_cmd = nullptr;
  SpecOptions spec;
  CLI::App* spec_cmd = nullptr;
  CorpusGenOptions gen;
  CLI::App* gen_cmd = nullptr;
};

// replay and run, which share --impl-mutant.
void add_replay_and_run(CLI::App& app, Cli& c, const CLI::Validator& protocols) {
  c.replay_cmd = app.add_subcommand("replay", "replay a program (.txt) or fuzz input");
  c.replay_cmd->add_option("file", c.replay.path, "program or fuzz input")->required();
  c.replay_cmd
      ->add_option("--protocol", c.replay.protocol,
                   "mshv | vhost (default: the program header, or the fuzz input's path; "
                   "otherwise both)")
      ->check(protocols);
  c.replay_cmd->add_option(
      "--profile", c.replay.profile,
      "override the trace's profile (default: the trace's own); " + all_profiles());
  c.replay_cmd
      ->add_option("--target", c.replay_target,
                   "impl (the real implementation, default) | model (the model alone, any "
                   "profile: e.g. a proof counterexample under its negative variant)")
      ->check(CLI::IsMember({"impl", "model"}));
  c.replay_cmd->add_flag("--json", c.replay.json, kJsonHelp);
  c.replay_cmd->add_option("--sarif", c.replay.sarif_path, kSarifHelp);

  // One impl mutant for replay and run (`lockstep mutants`); LOCKSTEP_IMPL_MUTANT is the default.
  const char* env_mutant = std::getenv("LOCKSTEP_IMPL_MUTANT");
  c.impl_mutant = env_mutant ? env_mutant : "";
  const char* mutant_help =
      "run a deliberately broken impl (`lockstep mutants`; default: $LOCKSTEP_IMPL_MUTANT)";
  c.replay_cmd->add_option("--impl-mutant", c.impl_mutant, mutant_help);

  c.run_cmd =
      app.add_subcommand("run", "bounded differential campaign: corpus replay + random inputs");
  c.run_cmd->add_option("protocol", c.campaign.protocol, "mshv | vhost")
      ->required()
      ->check(protocols);
  c.run_cmd->add_option("--seconds", c.campaign.seconds, "random phase length")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  c.run_cmd->add_option("--seed", c.campaign.seed, "random seed")->capture_default_str();
  c.run_cmd->add_option("--corpus", c.campaign.corpus_root,
                        "corpus root (default: ./corpus, else the project's)");
  c.run_cmd->add_option("--findings", c.campaign.findings_dir, "where diverging inputs are written")
      ->capture_default_str();
  c.run_cmd->add_option("--impl-mutant", c.impl_mutant, mutant_help);
  c.run_cmd->add_flag("--json", c.campaign.json, kJsonHelp);
  c.run_cmd->add_option("--sarif", c.campaign.sarif_path, kSarifHelp);
}

// `corpus min` (tools/corpus_min.cc); --root and --json are the corpus command's.
void add_corpus_min(CLI::App& corpus, Cli& c, const CLI::Validator& protocols) {
  CorpusMinOptions& o = c.corpus_min;
  c.min_cmd = corpus.add_subcommand(
      "min",
      "minimise a grown corpus (libFuzzer or AFL++ queue directories, programs) to the "
      "smallest set keeping its model-transition and libFuzzer edge coverage");
  c.min_cmd->add_option("--protocol", o.protocol, "mshv | vhost")->required()->check(protocols);
  c.min_cmd->add_option("dirs", o.dirs, "directories of inputs (an AFL++ output root: its queues)")
      ->required();
  c.min_cmd->add_option("--out", o.out_dir,
                        "write the kept inputs here, named by content hash (default: none)");
  c.min_cmd->add_flag("--merge", o.merge,
                      "add the kept inputs to the corpus (--root) as programs with twins, never "
                      "overwriting");
  c.min_cmd->add_option("--fuzz-binary", o.fuzz_binary,
                        "the libFuzzer target for edge coverage (default: "
                        "build/fuzz/fuzz/fuzz_<target> if built, else model coverage only)");
  c.min_cmd->add_flag("--model-only", o.model_only, "keep model-transition coverage only");
  // Test only (tests/cli/corpus_min.py): a broken selection the coverage check must catch.
  c.min_cmd->add_flag("--test-drop-one", o.drop_one)->group("");
  c.min_cmd->fallthrough();
}

void add_listings_corpus_and_fmt(CLI::App& app, Cli& c, const CLI::Validator& protocols) {
  c.mutants_cmd = app.add_subcommand(
      "mutants", "list the impl mutants that --impl-mutant and LOCKSTEP_IMPL_MUTANT select");
  c.mutants_cmd->add_flag("--json", c.mutants_json,
                          "[{\"protocol\",\"name\",\"summary\",\"field\"}, ...]");
  c.mutants_cmd->add_flag("--markdown", c.mutants_markdown, "the table of docs/mutants.md")
      ->excludes(c.mutants_cmd->get_option("--json"));

  c.corpus_cmd = app.add_subcommand("corpus", "readable programs <-> binary fuzz inputs");
  c.corpus_cmd->require_subcommand(1);
  c.build_cmd = c.corpus_cmd->add_subcommand(
      "build", "write corpus/<name>/*.bin from corpus/programs/<name>/*.txt");
  c.check_cmd =
      c.corpus_cmd->add_subcommand("check", "verify every program has an up-to-date twin");
  c.corpus_cmd->add_option("--root", c.corpus_root,
                           "corpus root (default: ./corpus, else the project's)");
  c.corpus_cmd->add_flag("--json", c.corpus_json, kJsonHelp);
  c.gen_cmd = c.corpus_cmd->add_subcommand(
      "gen",
      "a transition-complete corpus from the model explorer: the shortest program per reachable "
      "(state class, op class) pair; prints the coverage and what lies beyond the bound");
  c.gen_cmd->add_option("--protocol", c.gen.protocol, "mshv | vhost")
      ->check(protocols)
      ->capture_default_str();
  c.gen_cmd->add_option("--out", c.gen.out, "write the programs here (default: none, the figures)");
  c.gen_cmd->add_option("--cover", c.gen.cover,
                        "instead: replay these programs (files or directories of *.txt) through "
                        "the same abstraction; their coverage and notes (default: none)");
  c.build_cmd->fallthrough();  // `corpus check --root X` as well as `corpus --root X check`
  c.check_cmd->fallthrough();
  c.to_gtest_cmd = c.corpus_cmd->add_subcommand(
      "to-gtest",
      "turn findings (crash files, programs) into GoogleTest cases (tests/regression.h)");
  c.to_gtest_cmd->add_option("files", c.to_gtest.files, "crash files or programs")->required();
  c.to_gtest_cmd->add_option("--out", c.to_gtest.out_dir, "where the _test.cc files go")
      ->capture_default_str();
  c.to_gtest_cmd
      ->add_option("--protocol", c.to_gtest.protocol,
                   "mshv | vhost (default: the program header, or the input's path)")
      ->check(protocols);
  c.to_gtest_cmd->add_option("--profile", c.to_gtest.profile,
                             "override the trace's profile (default: the trace's own); "
                             "profiles a real target implements: mshv-v1, mshv-strict, spec");

  add_corpus_min(*c.corpus_cmd, c, protocols);

  c.fmt_cmd = app.add_subcommand("fmt", "rewrite programs in canonical form");
  c.fmt_cmd->add_option("files", c.fmt_files, "programs (.txt); - for stdin -> stdout")->required();
  c.fmt_cmd->add_flag("--check", c.fmt_check, "write nothing; exit 1 if a file is not canonical");

  c.profiles_cmd = app.add_subcommand("profiles", "list every profile, one line each");
  c.profiles_cmd->add_option("protocol", c.profiles_protocol, "mshv | vhost (default: both)")
      ->check(protocols);
}

void add_peer_and_prove(CLI::App& app, Cli& c) {
  c.peer_cmd = app.add_subcommand(
      "peer",
      "run the model against a real third-party implementation (kvm: /dev/kvm; dpdk: "
      "librte_vhost through dpdk_vhost_peer; libvhost-user: qemu-storage-daemon)");
  c.peer_cmd
      ->add_option("peer", c.peer_name,
                   "kvm (the mshv model against kvm-vfio), dpdk (the vhost model against "
                   "librte_vhost) or libvhost-user (the vhost model against QEMU's "
                   "libvhost-user in qemu-storage-daemon)")
      ->required()
      ->check(CLI::IsMember({"kvm", "dpdk", "libvhost-user"}));
  using lockstep::peers::dpdk::DpdkBinding;
  using lockstep::peers::kvm::KvmBinding;
  c.peer_cmd->add_option(
      "--profile", c.peer.profile,
      std::string("kvm: ") + profiles_of("mshv", false) +
          " (default: " + KvmBinding::kInfo.profile + "); dpdk: " + profiles_of("vhost", false) +
          " (default: " + DpdkBinding::kInfo.profile + "); libvhost-user: the same (default: " +
          lockstep::peers::libvhost_user::LibvhostUserBinding::kInfo.profile + ")");
  c.peer_cmd->add_option("--seconds", c.peer.seconds, "generated-trace phase length")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  c.peer_cmd->add_option("--seed", c.peer.seed, "random seed")->capture_default_str();
  c.peer.corpus_root = default_corpus_root();
  c.peer_cmd->add_option("--corpus", c.peer.corpus_root,
                         "corpus root (default: ./corpus, else the project's)");
  c.peer_cmd->add_option("--report", c.peer.report_path,
                         "write a markdown report here (default: none)");
  c.peer_cmd->add_option("--expectations", c.peer.expectations,
                         "the known disagreements (default: peers/<peer>/expectations.txt, else "
                         "the project's)");
  c.peer_cmd->add_option("--findings", c.peer.findings_dir,
                         "where minimal disagreements go (default: findings/<peer>)");
  c.peer_cmd->add_flag("--type-map", c.peer_type_map,
                       "kvm: swap MSHV and KVM numbers (type 0<->4, ...); default for mshv-* "
                       "profiles");
  c.peer_cmd->add_flag("--no-type-map", c.peer_no_type_map,
                       "kvm: pass type and request numbers as-is");
  c.peer_cmd->add_flag("--json", c.peer.json, kJsonHelp);
  c.peer_cmd->add_option("--sarif", c.peer.sarif_path, kSarifHelp);

  c.prove_cmd = app.add_subcommand(
      "prove", "k-induction / BMC of the model's invariants, every profile and mutant");
  c.prove_cmd->add_option("--protocol", c.prove.protocol, "mshv | vhost | all (default)");
  c.prove_cmd->add_option("--profile", c.prove.profile,
                          "one profile, with --protocol (default: all); " + all_profiles());
  c.prove_cmd->add_flag("--json", c.prove.json, "JSON for CI");
  c.prove_cmd->add_flag("--verbose", c.prove.verbose,
                        "the full report: scope, vacuity sample, one row per invariant x profile "
                        "(default: the matrix)");
  c.prove_cmd->add_option("--emit-corpus", c.prove.emit_corpus,
                          "write counterexamples as <invariant>__<profile>.txt/.bin here "
                          "(default: none)");
  c.prove_cmd->add_option("--corpus", c.prove.corpus_root,
                          "corpus root of the vacuity sample (default: ./corpus, else the "
                          "project's)");
  c.prove_cmd->add_option("--sarif", c.prove.sarif_path, kSarifHelp);
}

// The one screen of README command 1 (tools/main-job.sh).
void add_summary(CLI::App& app, Cli& c) {
  c.summary_cmd = app.add_subcommand(
      "summary",
      "one screen from the --json documents of run, prove and peer: campaigns, proof matrices, "
      "peers, verdict");
  c.summary_cmd->add_option("files", c.summary_files, "the documents (JSON files)")->required();
}

// The monitor (monitor/monitor.h, README "Monitor").
void add_monitor(CLI::App& app, Cli& c) {
  c.monitor_cmd = app.add_subcommand(
      "monitor",
      "a vhost-user proxy between a real front-end and back-end: forwards every message, checks "
      "the back-end's replies against the model and the front-end against rules FE1-FE8");
  c.monitor_cmd->add_option("--listen", c.monitor.listen, "the socket the front-end connects to")
      ->required();
  c.monitor_cmd->add_option("--connect", c.monitor.connect, "the back-end's listening socket")
      ->required();
  c.monitor_cmd->add_option("--profile", c.monitor.profile,
                            "the model profile the back-end is held to (default: spec); vhost: " +
                                profiles_of("vhost", true));
  c.monitor_cmd->add_option("--record", c.monitor.record,
                            "write the session as a program to FILE and its fuzz-input twin to "
                            "FILE with .bin for .txt (default: none)");
  c.monitor_cmd
      ->add_option("--perturb", c.monitor.perturb,
                   "seeded random delays (0-20 ms) and split writes of the back-end's replies "
                   "(default: none)")
      ->check(CLI::NonNegativeNumber);
  c.monitor_cmd->add_flag("--json", c.monitor.json, kJsonHelp);
}

// The reproducers (tools/repro/repro.h, README "Reproducers").
void add_repro(CLI::App& app, Cli& c) {
  c.repro_cmd = app.add_subcommand(
      "repro",
      "write a standalone C file (libc and kernel headers only) that replays a program against a "
      "real peer and prints, per op, the model's expectation next to what the peer did");
  c.repro_cmd->add_option("file", c.repro.path, "program (.txt) or fuzz input")->required();
  c.repro_cmd
      ->add_option("--peer", c.repro.peer,
                   "dpdk (librte_vhost) | libvhost-user (qemu-storage-daemon): vhost programs, "
                   "the reproducer connects to the back-end's socket; kvm: mshv programs on "
                   "/dev/kvm")
      ->required()
      ->check(CLI::IsMember({"dpdk", "libvhost-user", "kvm"}));
  c.repro_cmd->add_option("--out", c.repro.out, "write the C file here (default: stdout)");
  c.repro_cmd->add_option(
      "--profile", c.repro.profile,
      "the profile of the peer's column (default: the peer's own: " +
          std::string(lockstep::peers::dpdk::DpdkBinding::kInfo.profile) + ", " +
          lockstep::peers::libvhost_user::LibvhostUserBinding::kInfo.profile + ", " +
          lockstep::peers::kvm::KvmBinding::kInfo.profile + "); " + all_profiles());
}

// The model explorer's documents (tools/spec.cc, README "For reviewers").
void add_spec(CLI::App& app, Cli& c, const CLI::Validator& protocols) {
  c.spec_cmd = app.add_subcommand(
      "spec",
      "the model explored breadth-first (tools/explore.h): per op every outcome in every "
      "reachable state class, the state diagram, the profiles' choices");
  c.spec_cmd->add_option("--protocol", c.spec.protocol, "mshv | vhost")
      ->check(protocols)
      ->capture_default_str();
  c.spec_cmd->add_option(
      "--profile", c.spec.profile,
      "the profile explored (default: the protocol's first: mshv-v1, spec); " + all_profiles());
  c.spec_cmd->add_option("--format", c.spec.format, "md | json | dot")
      ->check(CLI::IsMember({"md", "json", "dot"}))
      ->capture_default_str();
  c.spec_cmd->add_option("--out", c.spec.out, "write to FILE (default: stdout)");
  c.spec_cmd
      ->add_option("--diff", c.spec.diff,
                   "A B: the (state class, op class) pairs where profiles A and B of one protocol "
                   "differ, each with a program that shows it (markdown; exit 0 whether or not "
                   "they differ; default: none, the spec of one profile); " +
                       all_profiles())
      ->expected(2);
}

int dispatch(Cli& c) {
  if (*c.spec_cmd) return spec(c.spec);
  if (*c.repro_cmd) return repro(c.repro);
  if (*c.monitor_cmd) return monitor(c.monitor);
  if (*c.summary_cmd) return summary(c.summary_files);
  if (*c.prove_cmd) return prove(c.prove);
  if (*c.peer_cmd) {
    if (c.peer_type_map) c.peer.type_map = true;
    if (c.peer_no_type_map) c.peer.type_map = false;
    if (c.peer_name == "dpdk") return lockstep::peers::dpdk::run_dpdk_peer(c.peer);
    if (c.peer_name == "libvhost-user")
      return lockstep::peers::libvhost_user::run_libvhost_user_peer(c.peer);
    return lockstep::peers::kvm::run_kvm_peer(c.peer);
  }
  if (*c.mutants_cmd) return list_mutants(c.mutants_json, c.mutants_markdown);
  c.campaign.impl_mutant = c.replay.impl_mutant = c.impl_mutant;
  if (*c.replay_cmd) {
    c.replay.model_only = c.replay_target == "model";
    return replay(c.replay);
  }
  if (*c.run_cmd) return run_campaign(c.campaign);
  if (*c.to_gtest_cmd) return to_gtest(c.to_gtest);
  if (*c.min_cmd) {
    c.corpus_min.corpus_root = c.corpus_root;
    c.corpus_min.json = c.corpus_json;
    return corpus_min(c.corpus_min);
  }
  if (*c.gen_cmd) return corpus_gen(c.gen);
  if (*c.corpus_cmd)
    return corpus_build(c.corpus_root.empty() ? default_corpus_root() : c.corpus_root,
                        c.check_cmd->parsed() && !c.build_cmd->parsed(), c.corpus_json);
  if (*c.fmt_cmd) return fmt(c.fmt_files, c.fmt_check);
  if (*c.profiles_cmd) return list_profiles(c.profiles_protocol);
  return kUsage;
}

int run_cli(int argc, char** argv) {
  CLI::App app{
      "lockstep: executable specifications of kernel and virtualisation interfaces, "
      "run in lockstep with real implementations"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("lockstep ") + LOCKSTEP_VERSION);
  const CLI::Validator protocols = CLI::IsMember({"mshv", "vhost"});
  Cli c;
  add_replay_and_run(app, c, protocols);
  add_listings_corpus_and_fmt(app, c, protocols);
  add_peer_and_prove(app, c);
  add_summary(app, c);
  add_monitor(app, c);
  add_repro(app, c);
  add_spec(app, c, protocols);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 prints the message; its own codes (105, 106, 109, ...) all mean bad usage.
    return app.exit(e) == 0 ? kOk : kUsage;
  }
  return dispatch(c);
}

}  // namespace
