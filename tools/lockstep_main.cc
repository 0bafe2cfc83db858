// lockstep: executable specifications run in lockstep with real implementations.
//   lockstep replay FILE            program or fuzz input, model and target side by side
//   lockstep run mshv --seconds N   bounded differential campaign with a summary table
//   lockstep corpus build|check     readable programs <-> binary fuzz inputs
//   lockstep fmt FILE...            rewrite programs in canonical form
#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <iterator>

#include "tools/bindings.h"
#include "tools/commands.h"

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

  CLI11_PARSE(app, argc, argv);

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
