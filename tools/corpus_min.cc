// `lockstep corpus min --protocol P DIR... [--out DIR] [--merge]`: minimises a grown corpus
// (libFuzzer corpus directories, AFL++ queues, readable programs) to a smallest set of inputs
// that keeps (a) the model-transition coverage of tools/transitions.h and (b), when the fuzz
// binary is there, libFuzzer's edge coverage (tools/libfuzzer_merge.h). Both kinds go into one
// universe, and tools/set_cover.h's greedy cover picks the inputs. The kept set is then checked:
// its programs and inputs are read again from their files and replayed on the model, and its
// transitions must be every transition of the whole corpus; its edge features, the features
// libFuzzer recorded for the whole corpus.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>

#include "core/program_files.h"
#include "core/table.h"
#include "tools/bindings.h"
#include "tools/commands.h"
#include "tools/exit_codes.h"
#include "tools/input_file.h"
#include "tools/json_output.h"
#include "tools/libfuzzer_merge.h"
#include "tools/set_cover.h"
#include "tools/transitions.h"

namespace lockstep::tools {
namespace {

namespace fs = std::filesystem;

constexpr const char* kSelection =
    "greedy set cover over the union of the kept kinds: the input adding the most uncovered "
    "elements first, ties to the smaller input";

// One input read and replayed on the model.
struct Loaded {
  std::string path;
  std::string bytes;       // the file as read
  bool program = false;    // a readable program (else a fuzz input)
  std::string fuzz_bytes;  // what the fuzz target reads: the file, a program's twin, or ""
  std::vector<std::string> transitions;
};

struct Corpus {
  std::vector<Loaded> inputs;
  std::vector<std::string> malformed;  // "FILE[:LINE:COL]: what", one per refused input
  size_t duplicates = 0;               // files with the bytes of an earlier one (not inputs)
};

// The inputs in DIR: its entries, sorted, except names starting with '.' (AFL++'s .state,
// .cur_input, .synced); an entry that is not a regular file is reported as malformed (load). An
// AFL++ output root (<DIR>/<instance>/queue) stands for its queues. A DIR that is not a
// directory is a usage error.
std::vector<std::string> input_paths(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw InputError(dir + ": not a directory of inputs");
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_directory() && fs::is_directory(e.path() / "queue"))
      dirs.push_back(e.path() / "queue");
  if (dirs.empty()) dirs.push_back(dir);
  std::vector<std::string> out;
  for (const fs::path& d : dirs)
    for (const auto& e : fs::directory_iterator(d, ec))
      if (!e.path().filename().string().starts_with(".")) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

// The transitions of a trace replayed on the model under its own profile, in op order.
template <class B>
std::vector<std::string> replay_transitions(const typename B::Trace& trace) {
  auto model = B::model(trace.profile);
  std::vector<std::string> out;
  for (const auto& op : trace.ops) {
    const auto before = model;
    const auto outcome = model.step(op);
    out.push_back(transition_class(before, op, outcome));
  }
  return out;
}

// Reads one file as an input of protocol B; InputError ("FILE[:LINE:COL]: what") if it is none.
template <class B>
std::pair<Loaded, typename B::Trace> load(const std::string& path) {
  const InputFile file = read_input(path);
  Loaded in{path, file.bytes, file.text, "", {}};
  if (file.text && file.protocol != B::kName)  // the message corpus check gives (read_program)
    throw InputError(path + ":" + std::to_string(parse_program(file.bytes).header_line) +
                     ":12: expected '# lockstep " + std::string(B::kName) +
                     "' (--protocol), got protocol '" + file.protocol + "'");
  typename B::Trace trace =
      file.text
          ? parse_program_file(path, file.bytes, [](auto t) { return B::parse(t); })
          : B::decode({reinterpret_cast<const uint8_t*>(file.bytes.data()), file.bytes.size()});
  if (!file.text) {
    in.fuzz_bytes = file.bytes;
  } else {
    try {
      const std::vector<uint8_t> twin = B::encode(trace);
      in.fuzz_bytes.assign(twin.begin(), twin.end());
    } catch (const std::invalid_argument&) {
      // A text-only profile (e.g. kvm): the fuzz target cannot run it; model coverage only.
    }
  }
  in.transitions = replay_transitions<B>(trace);
  return {std::move(in), std::move(trace)};
}

// Every file of every DIR, each read once; a file with the bytes of an earlier one is the same
// input (AFL++ and libFuzzer corpora of one target often share files) and is only counted.
template <class B>
Corpus load_all(const std::vector<std::string>& dirs) {
  Corpus c;
  std::set<std::string> seen;
  for (const std::string& dir : dirs)
    for (const std::string& path : input_paths(dir)) try {
        Loaded in = load<B>(path).first;
        if (seen.insert(in.bytes).second)
          c.inputs.push_back(std::move(in));
        else
          ++c.duplicates;
      } catch (const std::exception& e) {  // InputError, a malformed fuzz input
        c.malformed.push_back(e.what());
      }
  return c;
}

// What was measured and what the selection kept.
struct Selection {
  std::vector<CoverInput> cover;
  size_t model_elements = 0;  // ids [0, model_elements) are transitions, the rest edge features
  std::vector<std::string> transition_names;  // by id
  std::string edges;         // "" = not measured; else the fuzz binary that measured them
  std::string edges_note;    // why not, when not
  size_t crashed = 0;        // inputs the fuzz target crashed on
  std::vector<size_t> kept;  // indices into Corpus::inputs
};

void add_model_coverage(const Corpus& c, Selection& s) {
  std::map<std::string, uint32_t> ids;
  for (const Loaded& in : c.inputs)
    for (const std::string& t : in.transitions) ids.emplace(t, 0);
  for (auto& [name, id] : ids) {
    id = static_cast<uint32_t>(s.transition_names.size());
    s.transition_names.push_back(name);
  }
  s.model_elements = ids.size();
  for (const Loaded& in : c.inputs) {
    CoverInput ci{in.bytes.size(), {}};
    for (const std::string& t : in.transitions) ci.covers.push_back(ids[t]);
    s.cover.push_back(std::move(ci));
  }
}

void add_edge_coverage(const Corpus& c, const std::string& binary, Selection& s) {
  std::vector<std::string> bytes;
  for (const Loaded& in : c.inputs) bytes.push_back(in.fuzz_bytes);
  const EdgeCoverage edges = libfuzzer_features(binary, bytes);
  std::map<uint32_t, uint32_t> ids;  // libFuzzer feature -> element id
  for (size_t i = 0; i < c.inputs.size(); ++i)
    for (uint32_t f : edges.features[i]) {
      auto [it, fresh] = ids.emplace(f, static_cast<uint32_t>(s.model_elements + ids.size()));
      s.cover[i].covers.push_back(it->second);
    }
  s.edges = binary;
  s.crashed = edges.crashed;
}

size_t count_in(const std::vector<uint32_t>& elements, size_t model_elements, bool model) {
  return std::count_if(elements.begin(), elements.end(),
                       [&](uint32_t e) { return (e < model_elements) == model; });
}

// The transitions of the kept inputs, read again from their files and replayed: the check that
// the selection lost nothing does not trust what the selection computed.
template <class B>
std::set<std::string> replay_kept(const Corpus& c, const std::vector<size_t>& kept) {
  std::set<std::string> out;
  for (size_t i : kept)
    for (const std::string& t : load<B>(c.inputs[i].path).first.transitions) out.insert(t);
  return out;
}

// Lines naming what the kept set lost; empty when it kept everything.
template <class B>
std::vector<std::string> lost_coverage(const Corpus& c, const Selection& s) {
  std::vector<std::string> lost;
  const std::set<std::string> kept = replay_kept<B>(c, s.kept);
  for (const std::string& t : s.transition_names)
    if (!kept.count(t)) lost.push_back("model transition lost: " + t);
  std::vector<size_t> all(c.inputs.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  const size_t edges_all = count_in(covered(s.cover, all), s.model_elements, false);
  const size_t edges_kept = count_in(covered(s.cover, s.kept), s.model_elements, false);
  if (edges_kept != edges_all)
    lost.push_back("edge features lost: " + std::to_string(edges_all - edges_kept) + " of " +
                   std::to_string(edges_all));
  return lost;
}

// FNV-1a, 64 bits, as 16 hex digits: the content-hash name of a written input.
std::string content_hash(std::string_view bytes) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char b : bytes) h = (h ^ b) * 1099511628211ull;
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
  return out;
}

// Writes `bytes` to `path` unless it is there: true if written. A file of other content at that
// name is never overwritten (InputError).
bool write_new(const fs::path& path, const std::string& bytes) {
  std::error_code ec;
  if (fs::exists(path, ec)) {
    if (read_file(path) == bytes) return false;
    throw InputError(path.string() + ": exists with other content; not overwritten");
  }
  std::ofstream out(path, std::ios::binary);
  out << bytes;
  if (!out.flush()) throw InputError(path.string() + ": cannot write");
  return true;
}

// --out: every kept input as it was read, named by its content hash (programs keep `.txt`).
int write_out(const Corpus& c, const Selection& s, const std::string& dir) {
  int written = 0;
  for (size_t i : s.kept) {
    const Loaded& in = c.inputs[i];
    written +=
        write_new(fs::path(dir) / (content_hash(in.bytes) + (in.program ? ".txt" : "")), in.bytes);
  }
  return written;
}

// --merge: every kept input not already in <root>/programs/<target>/ (the same profile and ops
// as a program there) becomes a program there, annotated with the model's outcomes and named
// min_<content hash>.txt, and gets its twin through corpus build's own writer.
template <class B>
int merge_into_corpus(const Corpus& c, const Selection& s, const std::string& root) {
  const fs::path dir = fs::path(root) / "programs" / std::string(B::kCorpus);
  std::error_code ec;
  fs::create_directories(dir, ec);
  std::vector<typename B::Trace> present;
  for (const auto& path : program_paths(dir))
    present.push_back(
        parse_program_file(path, read_text_file(path), [](auto t) { return B::parse(t); }));
  int merged = 0, twins = 0;
  std::vector<std::string> errors;
  for (size_t i : s.kept) {
    const typename B::Trace trace = load<B>(c.inputs[i].path).second;
    const bool known = std::any_of(present.begin(), present.end(), [&](const auto& p) {
      return p.profile == trace.profile && p.ops == trace.ops;
    });
    if (known) continue;
    const std::string text = B::print(with_model_notes<B>(trace));
    const fs::path program = dir / ("min_" + content_hash(text) + ".txt");
    if (!write_new(program, text)) continue;
    ++merged;
    present.push_back(trace);
    if (corpus_file_build(root, program, false, errors, twins) != kOk)
      throw InputError(errors.empty() ? program.string() + ": no twin" : errors.front());
  }
  return merged;
}

nlohmann::json result_json(const CorpusMinOptions& o, const Corpus& c, const Selection& s,
                           const std::vector<std::string>& lost, int code) {
  std::vector<size_t> all(c.inputs.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  const auto before = covered(s.cover, all), after = covered(s.cover, s.kept);
  nlohmann::json kept = nlohmann::json::array();
  for (size_t i : s.kept) kept.push_back(c.inputs[i].path);
  nlohmann::json edges = nullptr;
  if (!s.edges.empty())
    edges = {{"before", count_in(before, s.model_elements, false)},
             {"after", count_in(after, s.model_elements, false)},
             {"fuzz_binary", s.edges},
             {"crashed_inputs", s.crashed}};
  return document(
      "corpus min", code,
      {{"protocol", o.protocol},
       {"directories", o.dirs},
       {"inputs",
        {{"before", c.inputs.size()}, {"after", s.kept.size()}, {"duplicates", c.duplicates}}},
       {"malformed", c.malformed},
       {"coverage",
        {{"model_transitions",
          {{"before", count_in(before, s.model_elements, true)},
           {"after", count_in(after, s.model_elements, true)},
           {"transitions", s.transition_names}}},
         {"edge_features", edges},
         {"edge_note", s.edges_note}}},
       {"selection", kSelection},
       {"lost", lost},
       {"kept", kept}});
}

void print_text(const CorpusMinOptions& o, const Corpus& c, const Selection& s) {
  std::vector<size_t> all(c.inputs.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  const auto before = covered(s.cover, all), after = covered(s.cover, s.kept);
  Table t({{""}, {"before", Table::Align::Right}, {"after", Table::Align::Right}});
  t.row({"inputs", std::to_string(c.inputs.size()), std::to_string(s.kept.size())});
  t.row({"model transitions", std::to_string(count_in(before, s.model_elements, true)),
         std::to_string(count_in(after, s.model_elements, true))});
  if (!s.edges.empty())
    t.row({"edge features", std::to_string(count_in(before, s.model_elements, false)),
           std::to_string(count_in(after, s.model_elements, false))});
  std::cout << "lockstep corpus min: " << o.protocol << ", " << c.inputs.size() << " inputs in "
            << o.dirs.size() << " director" << (o.dirs.size() == 1 ? "y" : "ies") << ", "
            << c.malformed.size() << " malformed (not kept), " << c.duplicates
            << " duplicates (the bytes of another file)\n"
            << t.text(2, "  ") << "coverage kept: model transitions"
            << (s.edges.empty()
                    ? "; edge features not measured (" + s.edges_note + ")"
                    : " and libFuzzer edge features (" + s.edges + " -merge=1" +
                          (s.crashed ? ", " + std::to_string(s.crashed) + " inputs crashed it"
                                     : "") +
                          ")")
            << "\nselection: " << kSelection << "\n";
}

template <class B>
Selection choose(const CorpusMinOptions& o, const Corpus& c) {
  Selection s;
  add_model_coverage(c, s);
  const std::string binary =
      o.model_only
          ? ""
          : (o.fuzz_binary.empty() ? find_fuzz_binary(std::string(B::kCorpus)) : o.fuzz_binary);
  if (!binary.empty())
    add_edge_coverage(c, binary, s);
  else
    s.edges_note = o.model_only ? "--model-only"
                                : "no fuzz binary: build the fuzz preset or pass --fuzz-binary";
  s.kept = greedy_cover(s.cover);
  if (o.drop_one && !s.kept.empty()) s.kept.pop_back();
  return s;
}

template <class B>
int minimise(const CorpusMinOptions& o) {
  if (!o.out_dir.empty()) prepare_output_dir(o.out_dir, "--out");
  const Corpus c = load_all<B>(o.dirs);
  for (const std::string& m : c.malformed) std::cerr << "lockstep corpus min: " << m << "\n";
  if (c.inputs.empty() && c.malformed.empty())
    throw InputError("no input in " + std::to_string(o.dirs.size()) + " directories");
  const Selection s = choose<B>(o, c);
  const std::vector<std::string> lost = lost_coverage<B>(c, s);
  for (const std::string& l : lost) std::cerr << "lockstep corpus min: " << l << "\n";
  int code = !lost.empty() ? kFinding : c.malformed.empty() ? kOk : kUsage;
  int written = 0, merged = 0;
  if (lost.empty()) {  // a selection that lost coverage is never written anywhere
    if (!o.out_dir.empty()) written = write_out(c, s, o.out_dir);
    if (o.merge)
      merged =
          merge_into_corpus<B>(c, s, o.corpus_root.empty() ? default_corpus_root() : o.corpus_root);
  }
  if (o.json) {
    nlohmann::json j = result_json(o, c, s, lost, code);
    j.update({{"written", written}, {"merged", merged}});
    if (code == kUsage) j["error"] = std::to_string(c.malformed.size()) + " malformed inputs";
    std::cout << j.dump(2) << "\n";
    return code;
  }
  print_text(o, c, s);
  if (!o.out_dir.empty())
    std::cout << "wrote " << written << " new inputs to " << o.out_dir << "\n";
  if (o.merge) std::cout << "merged " << merged << " new programs (with twins) into the corpus\n";
  return code;
}

}  // namespace

int corpus_min(const CorpusMinOptions& o) {
  auto fail = [&](int code, const std::string& what) {
    std::cerr << "lockstep corpus min: " << what << "\n";
    if (o.json)
      std::cout << document("corpus min", code,
                            {{"protocol", o.protocol}, {"directories", o.dirs}, {"error", what}})
                       .dump(2)
                << "\n";
    return code;
  };
  try {
    return with_binding(o.protocol, [&](auto b) { return minimise<decltype(b)>(o); });
  } catch (const EnvironmentError& e) {
    return fail(kEnvironment, e.what());
  } catch (const std::exception& e) {  // InputError: a directory, --out, the corpus root
    return fail(kUsage, e.what());
  }
}

}  // namespace lockstep::tools
