#include <algorithm>
#include <cstdio>
#include <iostream>
#include <iterator>

#include "core/program_text.h"
#include "core/report.h"
#include "impl/mutants.h"
#include "tools/bindings.h"
#include "tools/commands.h"
#include "tools/exit_codes.h"
#include "tools/input_file.h"
#include "tools/json_output.h"
#include "tools/sarif.h"

namespace lockstep::tools {
namespace {

// One replay under one protocol: its exit code and, for --json, its verdict; for --sarif its
// findings.
struct Replayed {
  int code = kOk;
  nlohmann::json json;
  std::vector<SarifFinding> sarif;
};

// The divergence of a replay as a SARIF finding: at the offending op's line of a program, at the
// whole file of a fuzz input (which has no lines).
template <class Trace>
SarifFinding divergence_finding(const InputFile& file, const Trace& trace, const Divergence& d) {
  const size_t op = offending_op(d.index, trace.ops.size());
  const std::vector<int>& lines = trace.source.op_lines;
  std::string message = d.signature + " (op " + std::to_string(op + 1) + ", field " + d.field +
                        (d.index < trace.ops.size() ? ")" : ", after the last op)");
  for (const auto& fd : d.leaked) message += "; " + fd;
  return {rule_of_signature(d.signature),
          message,
          d.signature,
          file.path,
          file.text && op < lines.size() ? lines[op] : 0,
          ""};
}

// `--target model`: the model alone, under any profile (a proof counterexample replays under the
// profile it fails): a second instance stands in for the target, so the side-by-side output is
// the model's outcomes and only the program's annotations can disagree.
template <class Model>
struct ModelAsTarget {
  Model model;
  template <class Op>
  auto step(const Op& op) {
    return model.step(op);
  }
  void finish() {}
  void reap() {}
};

template <class B>
Replayed replay_with(const InputFile& file, const ReplayOptions& o) {
  typename B::Trace trace = trace_under<B>(file, o.profile);
  if (!o.model_only && !B::target_supports(trace.profile))
    throw InputError(file.path + ": no real " + std::string(B::kName) +
                     " target implements profile '" + trace.profile +
                     "'; use `--target model`, or `lockstep peer` for peer profiles");
  auto model = B::model(trace.profile);
  auto verdict = [&] {
    if (o.model_only) {
      ModelAsTarget<typename B::Model> target{B::model(trace.profile)};
      return run<typename B::P>(trace.ops, model, target, {.check_fds = false});
    }
    auto target = B::target(trace.profile, impl_mutant_id(B::kName, o.impl_mutant));
    return run<typename B::P>(trace.ops, model, target);
  }();
  const std::vector<std::string> mismatches = B::note_mismatches(trace, verdict.model);
  Replayed r{verdict.ok() && mismatches.empty() ? kOk : kFinding,
             verdict_json<typename B::P>(trace.profile, trace.ops, verdict),
             {}};
  r.json["annotation_mismatches"] = mismatches;
  if (verdict.divergence) r.sarif.push_back(divergence_finding(file, trace, *verdict.divergence));
  for (const auto& m : mismatches) {  // "line N: ..." (note_mismatches of tools/bindings.h)
    int line = 0;
    std::sscanf(m.c_str(), "line %d:", &line);
    r.sarif.push_back(
        {sarif_rule::kAnnotationMismatch, file.path + ": " + m, "", file.path, line, ""});
  }
  if (!o.impl_mutant.empty()) r.json["impl_mutant"] = o.impl_mutant;
  if (o.json) return r;
  std::cout << side_by_side<typename B::P>(trace.profile, trace.ops, verdict);
  for (const auto& m : mismatches) std::cout << "# " << file.path << ": " << m << "\n";
  std::cout << "# " << file.path << " (" << B::kName << "): " << trace.ops.size() << " ops, "
            << (verdict.ok() ? "no divergence" : "DIVERGED")
            << (o.impl_mutant.empty() ? "" : " (impl mutant " + o.impl_mutant + ")") << ", fds +"
            << verdict.fds_delta << " (model expects +" << verdict.fds_expected << ")"
            << (mismatches.empty()
                    ? ""
                    : ", annotation mismatches: " + std::to_string(mismatches.size()))
            << "\n";
  return r;
}

Replayed replay_as(const std::string& protocol, const InputFile& file, const ReplayOptions& o) {
  return with_binding(protocol,
                      [&](auto binding) { return replay_with<decltype(binding)>(file, o); });
}

// The protocol of impl mutant `name` ("" for none); an unknown name is left to
// impl_mutant_id, which lists the valid ones.
std::string protocol_of_mutant(const std::string& name) {
  for (const ImplMutant& m : impl_mutants())
    if (m.name == name) return std::string(m.protocol);
  return "";
}

// Replays `file` under the protocol it names or, for a fuzz input whose context names no
// target, under both (both targets accept any byte string): the worse verdict wins, so an
// input is never passed on a guess.
int replay_file(const InputFile& file, const ReplayOptions& o, nlohmann::json& out,
                std::vector<SarifFinding>& sarif) {
  if (!o.protocol.empty() && file.text && o.protocol != file.protocol)
    throw InputError(file.path + ": --protocol " + o.protocol + " but the program header says " +
                     file.protocol);
  // An impl mutant belongs to one protocol, so naming one names the protocol too.
  const std::string mutant_protocol = protocol_of_mutant(o.impl_mutant);
  const std::string& chosen = !o.protocol.empty()      ? o.protocol
                              : !file.protocol.empty() ? file.protocol
                                                       : mutant_protocol;
  out["protocol_from"] = !o.protocol.empty()      ? "--protocol"
                         : !file.protocol.empty() ? file.protocol_source
                         : !chosen.empty()        ? "--impl-mutant"
                                                  : "nothing: replayed under both";
  if (chosen.empty() && !o.json)
    std::cout << "# " << file.path
              << ": nothing says which fuzz target wrote this input (pass --protocol, or keep "
                 "it under a path naming the target); replaying it under both\n";
  int worst = kOk;
  for (const auto& protocol :
       chosen.empty() ? std::vector<std::string>{"mshv", "vhost"} : std::vector{chosen}) {
    Replayed r = replay_as(protocol, file, o);
    worst = std::max(worst, r.code);
    sarif.insert(sarif.end(), r.sarif.begin(), r.sarif.end());
    out["replays"].push_back(std::move(r.json));
  }
  return worst;
}

}  // namespace

int replay(const ReplayOptions& o) {
  nlohmann::json out;
  std::vector<SarifFinding> sarif;
  std::string error;
  int code = kOk;
  try {
    out["file"] = o.path;
    code = replay_file(read_input(o.path), o, out, sarif);
  } catch (const std::exception&) {
    error = input_error_message(o.path);
  }
  if (!error.empty()) {
    std::cerr << "lockstep replay: " << error << "\n";
    code = kUsage;
    out["error"] = error;
  }
  if (const int written = with_sarif(o.sarif_path, sarif, code); written != code) {
    code = written;
    out["error"] = o.sarif_path + ": cannot write the SARIF log";
  }
  if (o.json) std::cout << document("replay", code, out).dump(2) << "\n";
  return code;
}

}  // namespace lockstep::tools
