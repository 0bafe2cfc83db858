#include "impl/mutants.h"

#include <cstdio>
#include <cstdlib>

#include "core/table.h"
#include "impl/mshv/device_layer.h"
#include "impl/vhost/backend.h"

namespace lockstep {
namespace {

constexpr ImplMutant kMutants[] = {
#define LOCKSTEP_IMPL_MUTANT(ID, NAME, FIELD, OP, SUMMARY, SOURCE) \
  {"mshv", LOCKSTEP_MSHV_MUTANT_##ID, NAME, FIELD, OP, SUMMARY, SOURCE},
#include "impl/mshv/mutants.def"
#undef LOCKSTEP_IMPL_MUTANT
#define LOCKSTEP_IMPL_MUTANT(ID, NAME, FIELD, OP, SUMMARY, SOURCE) \
  {"vhost", static_cast<int>(vhost::Mutant::ID), NAME, FIELD, OP, SUMMARY, SOURCE},
#include "impl/vhost/mutants.def"
#undef LOCKSTEP_IMPL_MUTANT
};

// A markdown table cell: a '|' would end it.
std::string cell(std::string_view s) {
  std::string out;
  for (char c : s) out += c == '|' ? std::string("\\|") : std::string(1, c);
  return out;
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string ImplMutant::signature() const {
  if (race()) return "WARNING: ThreadSanitizer: data race";
  // "fds" without an op: the end-of-trace fd check; with an op: the per-op fd census.
  if (field == "fds" && op.empty()) return "lockstep: fd-leak " + std::string(protocol);
  return "lockstep: divergence " + std::string(protocol) + "/" + std::string(op) + "/" +
         std::string(field);
}

std::span<const ImplMutant> impl_mutants() {
  return kMutants;
}

int impl_mutant_id(std::string_view protocol, std::string_view name) {
  if (name.empty()) return 0;
  std::string valid;
  for (const ImplMutant& m : kMutants) {
    if (m.protocol != protocol) continue;
    if (m.name == name) return m.id;
    valid += (valid.empty() ? "" : ", ") + std::string(m.name);
  }
  throw std::invalid_argument("unknown " + std::string(protocol) + " impl mutant '" +
                              std::string(name) + "'; valid: " + valid);
}

int impl_mutant_from_env(std::string_view protocol, const char* who) {
  const char* name = std::getenv("LOCKSTEP_IMPL_MUTANT");
  try {
    return impl_mutant_id(protocol, name ? name : "");
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "%s: LOCKSTEP_IMPL_MUTANT: %s\n", who, e.what());
    std::exit(2);
  }
}

std::string impl_mutants_json() {
  std::string out = "[";
  for (const ImplMutant& m : kMutants) {
    out += (out.size() > 1 ? ",\n " : "") + std::string("{\"protocol\":") +
           json_string(m.protocol) + ",\"name\":" + json_string(m.name) +
           ",\"summary\":" + json_string(m.summary) + ",\"field\":" + json_string(m.field) + "}";
  }
  return out + "]\n";
}

std::string impl_mutants_markdown() {
  Table t{"protocol", "name", "corrupts", "caught as", "defect", "mirrors"};
  for (const ImplMutant& m : kMutants)
    t.row({std::string(m.protocol), "`" + std::string(m.name) + "`",
           "`" + std::string(m.field) + "`", "`" + m.signature() + "`", cell(m.summary),
           m.source.empty() ? "classic slip" : cell(m.source)});
  return t.markdown();
}

}  // namespace lockstep
