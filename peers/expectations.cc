#include "peers/expectations.h"

#include <algorithm>
#include <optional>

#include "core/program_files.h"

namespace lockstep::peers {
namespace {

struct ClassName {
  const char* name;
  char kind;
};
// The report's letters (peers/campaign.cc findings_section).
constexpr ClassName kClasses[] = {
    {"deviation", 'a'}, {"model-gap", 'b'}, {"peer-defect", 'c'}, {"spec-ambiguity", 's'}};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

bool all_of(std::string_view s, bool (*ok)(char)) {
  return !s.empty() && std::all_of(s.begin(), s.end(), ok);
}
bool op_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}
bool field_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
}

class Parser {
 public:
  Parser(std::string_view text, const std::string& path, const SignatureRules& rules)
      : text_(text), rules_(rules) {
    out_.path = path;
  }

  Expectations run() {
    size_t start = text_.starts_with("\xEF\xBB\xBF") ? 3 : 0;  // a BOM is not part of line 1
    for (size_t at = start; at <= text_.size(); ++line_) {
      const size_t end = std::min(text_.find('\n', at), text_.size());
      take(text_.substr(at, end - at));
      at = end + 1;
    }
    close_entry();
    return std::move(out_);
  }

 private:
  [[noreturn]] void fail(size_t col, const std::string& what) const {
    throw ExpectationsError(out_.path + ":" + std::to_string(line_) + ":" +
                            std::to_string(col + 1) + ": " + what);
  }

  void take(std::string_view raw) {
    const std::string_view body = trim(raw);
    if (body.empty() || body.front() == '#') return;
    const size_t indent = raw.find_first_not_of(" \t");
    if (indent == 0) return expect(raw);
    if (!current_) fail(indent, "a field before any `expect` line");
    field(raw, indent);
  }

  void expect(std::string_view raw) {
    constexpr std::string_view kWord = "expect ";
    if (!raw.starts_with(kWord))
      fail(0, "expected `expect SIGNATURE` or an indented field, found '" + std::string(trim(raw)) +
                  "'");
    close_entry();
    const std::string_view sig = trim(raw.substr(kWord.size()));
    if (sig.empty()) fail(kWord.size(), "`expect` without a signature");
    if (out_.find(sig))
      fail(kWord.size(),
           "signature listed twice (first at line " + std::to_string(out_.find(sig)->line) + ")");
    check_signature(sig, raw.find_first_not_of(" \t", kWord.size()));
    current_ = Expectation{};
    current_->signature = sig;
    current_->line = line_;
  }

  void field(std::string_view raw, size_t indent) {
    const size_t colon = raw.find(':', indent);
    if (colon == std::string_view::npos) fail(indent, "a field is `name: value`");
    const std::string_view name = trim(raw.substr(indent, colon - indent));
    const std::string_view value = trim(raw.substr(colon + 1));
    const size_t value_col = raw.find_first_not_of(" \t", colon + 1);
    if (value.empty()) fail(colon + 1, "field '" + std::string(name) + "' has no value");
    Expectation& e = *current_;
    if (name == "class") {
      if (!e.class_name.empty()) fail(indent, "`class` given twice");
      const auto* c = std::find_if(std::begin(kClasses), std::end(kClasses),
                                   [&](const ClassName& k) { return value == k.name; });
      if (c == std::end(kClasses))
        fail(value_col, "unknown class '" + std::string(value) +
                            "' (deviation, model-gap, peer-defect, spec-ambiguity)");
      e.class_name = value;
      e.kind = c->kind;
    } else if (name == "seen-by") {
      if (seen_by_) fail(indent, "`seen-by` given twice");
      if (value != "corpus" && value != "generated")
        fail(value_col, "seen-by is corpus or generated, not '" + std::string(value) + "'");
      seen_by_ = true;
      e.corpus = value == "corpus";
    } else if (name == "why") {
      if (!e.why.empty()) fail(indent, "`why` given twice");
      e.why = value;
    } else if (name == "evidence") {
      if (!value.starts_with("source ") && !value.starts_with("probe "))
        fail(value_col, "evidence is `source FILE: WHERE` or `probe WHAT WAS RUN`, not '" +
                            std::string(value) + "'");
      e.evidence.emplace_back(value);
    } else {
      fail(indent, "unknown field '" + std::string(name) + "' (class, seen-by, why, evidence)");
    }
  }

  // `sig` begins at 0-based column `col` of the `expect` line.
  void check_signature(std::string_view sig, size_t col) const {
    if (rules_.peer.empty()) return;
    const std::string syntax = "`PROFILE: lockstep: divergence " + rules_.peer +
                               "-peer/OP/FIELD` or `PROFILE: lockstep: fd-leak " + rules_.peer +
                               "-peer`";
    const size_t colon = sig.find(": ");
    if (colon == std::string_view::npos) fail(col, "a signature is " + syntax);
    const std::string profile(sig.substr(0, colon));
    if (rules_.runs_profile && !rules_.runs_profile(profile))
      fail(col, "the " + rules_.peer + " peer runs no profile '" + profile + "' (" +
                    rules_.profiles + ")");
    size_t at = colon + 2;
    std::string_view rest = sig.substr(at);
    const std::string peer = rules_.peer + "-peer";
    constexpr std::string_view kDivergence = "lockstep: divergence ", kLeak = "lockstep: fd-leak ";
    const bool divergence = rest.starts_with(kDivergence);
    if (!divergence && !rest.starts_with(kLeak))
      fail(col + at, "expected `lockstep: divergence` or `lockstep: fd-leak` after the profile");
    at += divergence ? kDivergence.size() : kLeak.size();
    rest = sig.substr(at);
    const std::string_view named = rest.substr(0, rest.find_first_of("/ "));
    if (named != peer)
      fail(col + at,
           "names '" + std::string(named) + "', not " + peer + " (a signature is " + syntax + ")");
    at += named.size();
    rest = sig.substr(at);
    if (divergence) {
      const size_t slash = rest.find('/', 1), end = std::min(rest.find(' '), rest.size());
      if (!rest.starts_with("/") || slash >= end || !all_of(rest.substr(1, slash - 1), op_char) ||
          !all_of(rest.substr(slash + 1, end - slash - 1), field_char))
        fail(col + at,
             "expected /OP/FIELD (an op such as SET_FEATURES, a field such as "
             "reply.payload) after " +
                 peer);
      at += end;
      rest = sig.substr(at);
    }
    if (!rest.empty() && !(rest.starts_with(" (") && rest.ends_with(")")))
      fail(col + at, "only ` (details)` may follow the signature");
  }

  void close_entry() {
    if (!current_) return;
    const Expectation& e = *current_;
    std::string missing;
    if (e.class_name.empty()) missing += " class";
    if (!seen_by_) missing += " seen-by";
    if (e.why.empty()) missing += " why";
    if (e.evidence.empty()) missing += " evidence";
    if (!missing.empty()) {
      line_ = e.line;
      fail(0, "entry '" + e.signature + "' lacks:" + missing);
    }
    out_.entries.push_back(std::move(*current_));
    current_.reset();
    seen_by_ = false;
  }

  std::string_view text_;
  const SignatureRules& rules_;
  int line_ = 1;
  Expectations out_;
  std::optional<Expectation> current_;
  bool seen_by_ = false;
};

}  // namespace

const Expectation* Expectations::find(std::string_view signature) const {
  for (const Expectation& e : entries)
    if (e.signature == signature) return &e;
  return nullptr;
}

Expectations parse_expectations(std::string_view text, const std::string& path,
                                const SignatureRules& rules) {
  return Parser(text, path, rules).run();
}

Expectations load_expectations(const std::string& path, const SignatureRules& rules) {
  std::string text;
  try {
    require_regular_file(path, "an expectations file without entries says so in a comment");
    text = read_regular_file(path);
    require_utf8(path, text, "an expectations file is text");
  } catch (const InputError& e) {
    throw ExpectationsError(e.what());
  }
  return parse_expectations(text, path, rules);
}

std::vector<std::string> audit(const Expectations& file, const std::set<std::string>& corpus_seen,
                               const std::set<std::string>& all_seen,
                               const std::vector<std::string>& profiles) {
  std::vector<std::string> problems;
  for (const std::string& s : all_seen)
    if (!file.find(s)) problems.push_back("not in " + file.path + ": " + s);
  for (const Expectation& e : file.entries) {
    const bool run = std::any_of(profiles.begin(), profiles.end(), [&](const std::string& p) {
      return e.signature.starts_with(p + ": ");
    });
    if (e.corpus && run && !corpus_seen.count(e.signature))
      problems.push_back(
          file.path + ":" + std::to_string(e.line) +
          ": seen-by corpus, but the corpus no longer reproduces it: " + e.signature);
    if (!e.corpus && corpus_seen.count(e.signature))
      problems.push_back(file.path + ":" + std::to_string(e.line) +
                         ": seen-by generated, but the corpus reproduces it: " + e.signature);
  }
  return problems;
}

}  // namespace lockstep::peers
