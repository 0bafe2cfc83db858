// `lockstep corpus gen`: a transition-complete corpus from the model explorer (tools/explore.h):
// for every reachable (state class, op class) pair the shortest program reaching it, with the
// model's outcomes as its notes, less every program that is a prefix of another (the longer one
// covers its pairs). `--cover PATH...` replays programs through the same abstraction instead:
// their notes against the model, and the pairs they cover (the generated corpus, or the
// hand-written one under corpus/programs/).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>

#include "core/program_files.h"
#include "tools/commands.h"
#include "tools/exit_codes.h"
#include "tools/explore_protocols.h"

namespace lockstep::tools {
namespace {

namespace fs = std::filesystem;

// The pairs a program covers: at each op, the state class before and every op class of the
// alphabet that builds exactly this op there.
template <class B, class Alphabet>
std::set<std::string> covered(const Alphabet& alphabet, typename B::Model model,
                              const std::vector<typename B::P::Op>& ops) {
  std::set<std::string> out;
  for (const auto& op : ops) {
    const std::string state = class_name(ExploreTraits<B>::state_class(model));
    for (const auto& c : alphabet)
      if (auto made = c.make(model); made && *made == op) out.insert(state + " | " + c.name());
    model.step(op);
  }
  return out;
}

template <class X>
std::set<std::string> reachable_pairs(const X& x) {
  std::set<std::string> out;
  for (const auto& t : x.transitions) out.insert(t.state + " | " + t.op_class());
  return out;
}

// What lies beyond the bound: op classes the alphabet cannot build in a class, and the classes
// reached at the bound and not expanded.
template <class X>
void print_unreachable(const X& x) {
  std::map<std::string, size_t> why;
  for (const auto& u : x.unexpressed) why[u.op_class + ": " + u.why]++;
  std::cout << "not reachable within the bound:\n  " << x.unexpanded.size()
            << " state classes reached at the bound (" << x.bounds.max_depth << " ops, "
            << x.bounds.max_states << " classes) and not expanded: their pairs are unexplored\n  "
            << x.unexpressed.size()
            << " pairs the abstraction cannot express (the state class has no object the op "
               "class needs):\n";
  for (const auto& [w, n] : why) std::cout << "    " << n << " x " << w << "\n";
}

// The shortest programs, less the proper prefixes of others, written as <protocol>_<n>.txt.
template <class B, class X>
size_t write_corpus(const X& x, const std::string& dir) {
  std::set<std::string> prefixes;
  for (const auto& t : x.transitions) {
    std::string text;
    for (const std::string& line : B::P::call_lines(t.program)) {
      if (!text.empty()) prefixes.insert(text);
      text += line + "\n";
    }
  }
  std::set<std::string> kept;  // by text: two pairs may share a program (the same op)
  size_t n = 0;
  fs::create_directories(dir);
  for (const auto& t : x.transitions) {
    std::string text;
    for (const std::string& line : B::P::call_lines(t.program)) text += line + "\n";
    if (prefixes.count(text) || !kept.insert(text).second) continue;
    typename B::Trace trace;
    trace.profile = x.profile;
    trace.ops = t.program;
    auto model = B::model(x.profile);
    for (const auto& op : t.program)
      trace.notes.push_back(ExploreTraits<B>::outcome(model.step(op)));
    char name[32];
    std::snprintf(name, sizeof name, "%s_%05zu.txt", x.protocol.c_str(), ++n);
    std::ofstream f(fs::path(dir) / name);
    f << B::print(trace);
    if (!f.flush()) throw InputError(dir + ": cannot write " + name);
  }
  return n;
}

// Replays every program of `paths` (files, or directories of *.txt): notes against the model
// under the program's profile, pairs through the abstraction for programs of `x.profile`.
template <class B, class X>
int cover(const X& x, const std::vector<std::string>& paths) {
  const auto alphabet = ExploreTraits<B>::alphabet(*B::profiles().find(x.profile));
  const auto reachable = reachable_pairs(x);
  std::set<std::string> hit;
  size_t programs = 0, other_profile = 0, mismatches = 0;
  for (const std::string& p : paths) {
    std::vector<fs::path> files =
        fs::is_directory(p) ? program_paths(p) : std::vector<fs::path>{fs::path(p)};
    for (const fs::path& file : files) {
      const std::string text = read_text_file(file);
      typename B::Trace trace;
      try {
        trace = B::parse(text);
      } catch (const ParseError& e) {
        throw InputError(file.string() + ":" + e.what());
      }
      ++programs;
      auto model = B::model(trace.profile);
      std::vector<typename B::P::Outcome> outcomes;
      for (const auto& op : trace.ops) outcomes.push_back(model.step(op));
      for (const std::string& m : B::note_mismatches(trace, outcomes)) {
        std::cout << file.string() << ": " << m << "\n";
        ++mismatches;
      }
      if (trace.profile != x.profile) {
        ++other_profile;
        continue;
      }
      for (const std::string& pair : covered<B>(alphabet, B::model(x.profile), trace.ops))
        if (reachable.count(pair)) hit.insert(pair);
    }
  }
  std::cout << programs << " programs (" << other_profile << " of another profile than "
            << x.profile << ", not counted) cover " << hit.size() << " of the " << reachable.size()
            << " reachable (state class, op class) pairs; " << mismatches
            << " notes disagree with the model\n";
  return mismatches ? kFinding : kOk;
}

}  // namespace

int corpus_gen(const CorpusGenOptions& o) {
  return with_binding(o.protocol, [&](auto binding) {
    using B = decltype(binding);
    const std::string profile = B::profiles().shipped().front()->name;
    const auto x = explore<B>(profile);
    if (!o.cover.empty()) return cover<B>(x, o.cover);
    std::cout << "lockstep corpus gen " << x.protocol << " (profile " << profile
              << "): " << x.reachable() << " reachable (state class, op class) pairs in "
              << x.states.size() << " state classes\n";
    if (!o.out.empty()) {
      const size_t n = write_corpus<B>(x, o.out);
      std::cout << "wrote " << n << " programs to " << o.out
                << " (one shortest program per pair, prefixes of others left out); coverage "
                << x.reachable() << "/" << x.reachable() << " by construction, `lockstep corpus "
                << "gen --protocol " << x.protocol << " --cover " << o.out << "` replays them\n";
    }
    print_unreachable(x);
    return static_cast<int>(kOk);
  });
}

}  // namespace lockstep::tools
