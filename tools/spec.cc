// `lockstep spec`: the model as a reviewable document, from the model explorer (tools/explore.h):
// per op, every outcome in every reachable state class (markdown or JSON), the state diagram
// (dot), the profiles' choices, and `--diff A B`: the pairs where two profiles differ, each with
// a program that shows it.
#include <fstream>
#include <iostream>
#include <map>
#include <set>

#include "core/table.h"
#include "tools/commands.h"
#include "tools/exit_codes.h"
#include "tools/explore_protocols.h"
#include "tools/json_output.h"

namespace lockstep::tools {
namespace {

// "p0 = open_partition(); d0 = create_device(p0, ...)": a program on one line.
template <class B>
std::string one_line(const std::vector<typename B::P::Op>& ops) {
  std::string out;
  for (const std::string& line : B::P::call_lines(ops)) out += (out.empty() ? "" : "; ") + line;
  return out;
}

// The profiles' choices: each switch with the option every shipped profile takes, read from the
// profile table (model/<protocol>/profiles.cc); the list of switches is checked against struct
// Profile by tests/check_citations.py.
template <class B>
std::string choices_markdown() {
  std::vector<std::string> head = {"switch", "rule"};
  const auto shipped = B::profiles().shipped();
  for (const auto* p : shipped) head.push_back(p->name);
  Table t{std::vector<Table::Column>(head.begin(), head.end())};
  for (const auto& c : ExploreTraits<B>::choices()) {
    std::vector<std::string> row = {"`" + c.name + "`", c.rule};
    for (const auto* p : shipped) row.push_back(c.option(*p));
    t.row(row);
  }
  return "## Profile choices\n\nEach switch of `model/" + std::string(B::kName) +
         "/profiles.h` with the option each shipped profile takes (`lockstep profiles " +
         std::string(B::kName) + "`).\n\n" + t.markdown();
}

// The transitions of one (op class, result, rule): the state classes they hold in, and what
// they change (an armed fault being used up is F1 for every op, so it is left out).
struct Group {
  size_t first = 0;  // the first transition: the shortest program
  std::vector<std::string> states;
  std::map<std::string, std::set<std::string>> changes;  // component -> the values it takes
  std::set<std::string> change_texts, resources;
};

void add_to(Group& g, const std::string& state, const std::vector<Change>& changes,
            const std::string& resources) {
  g.states.push_back(state);
  std::vector<Change> shown;
  for (const Change& c : changes)
    if (!(c.key == "armed" && c.to == "-")) shown.push_back(c);
  for (const Change& c : shown) g.changes[c.key].insert(c.to);
  g.change_texts.insert(change_text(shown));
  g.resources.insert(resources.empty() ? "—" : resources);
}

// One change for the whole group when they all make it; else each component that changes in
// some of them, with the values it takes ("phase → none | advised").
std::string change_cell(const Group& g) {
  if (g.change_texts.size() == 1) return *g.change_texts.begin();
  std::string out = "depends on the class: ";
  for (const auto& [key, values] : g.changes) {
    out += (out.back() == ' ' ? "" : "; ") + key + " → ";
    std::string v;
    for (const std::string& value : values) v += (v.empty() ? "" : " \\| ") + value;
    out += v;
  }
  return out;
}

// The one value of the group, or how many it takes (each is in the JSON).
std::string set_cell(const std::set<std::string>& values) {
  if (values.size() == 1) return *values.begin();
  return "depends on the class (" + std::to_string(values.size()) + " cases, see `--format json`)";
}

// The transitions of one op kind, a row per (argument class, result, rule).
template <class B, class X>
std::string kind_markdown(const X& x, const std::string& kind, size_t expanded) {
  std::vector<std::string> order;
  std::map<std::string, Group> groups;
  for (size_t i = 0; i < x.transitions.size(); ++i) {
    const auto& t = x.transitions[i];
    if (t.kind != kind) continue;
    const std::string key = t.args + "\x1f" + t.outcome + "\x1f" + t.rule;
    auto [it, fresh] = groups.try_emplace(key, Group{i, {}, {}, {}, {}});
    if (fresh) order.push_back(key);
    add_to(it->second, t.state, t.changes, t.resources);
  }
  Table table({"arguments", "in state classes", "result", "rule", "state change", "resources",
               "shortest program"});
  for (const std::string& key : order) {
    const Group& g = groups.at(key);
    const auto& t = x.transitions[g.first];
    std::string where = g.states.size() == expanded
                            ? "every (" + std::to_string(expanded) + ")"
                            : std::to_string(g.states.size()) + ": " + g.states.front();
    if (g.states.size() > 1 && g.states.size() != expanded) where += ", …";
    table.row({t.args.empty() ? "—" : t.args, where, "`" + t.outcome + "`",
               t.rule.empty() ? "—" : t.rule, change_cell(g), set_cell(g.resources),
               "`" + one_line<B>(t.program) + "`"});
  }
  return "## " + kind + "\n\n" + table.markdown() + "\n";
}

template <class B>
std::string command_line(const std::string& profile, const std::string& format) {
  return "lockstep spec --protocol " + std::string(B::kName) + " --profile " + profile +
         " --format " + format;
}

template <class B, class X>
std::string spec_markdown(const X& x) {
  const size_t expanded = x.states.size() - x.unexpanded.size();
  std::string out = "# " + x.protocol + ": the model as a specification (profile `" + x.profile +
                    "`)\n\nGenerated by `" + command_line<B>(x.profile, "md") +
                    "` from the model (`model/" + x.protocol +
                    "/`) through the model explorer (`tools/explore.h`); do not edit.\n\n";
  out += "A breadth-first search from the initial state over " +
         std::to_string(x.op_classes.size()) + " op classes (`tools/explore_" + x.protocol +
         ".cc`) reached " + std::to_string(x.states.size()) + " state classes (" +
         std::to_string(expanded) + " expanded, bounds: " + std::to_string(x.bounds.max_depth) +
         " ops, " + std::to_string(x.bounds.max_states) + " state classes) and " +
         std::to_string(x.reachable()) +
         " (state class, op class) pairs. Each row is one behaviour of an op: the argument "
         "class, the state classes it holds in (how many, and the first reached), the result "
         "(the program format's note), the rule the model cites, the change of state class, "
         "the resources taken or released, and the shortest program reaching the first.\n\n";
  std::vector<std::string> kinds;
  for (const auto& t : x.transitions)
    if (std::find(kinds.begin(), kinds.end(), t.kind) == kinds.end()) kinds.push_back(t.kind);
  for (const std::string& kind : kinds) out += kind_markdown<B>(x, kind, expanded);
  return out + choices_markdown<B>();
}

// An edge's label: each op kind with the rules it moves by; past four kinds (a connection
// closing on any refusal), how many kinds and the rules.
std::string edge_label(const std::map<std::string, std::set<std::string>>& kinds) {
  auto join = [](const std::set<std::string>& s) {
    std::string out;
    for (const std::string& v : s) out += (out.empty() ? "" : ", ") + (v.empty() ? "—" : v);
    return out;
  };
  std::string label;
  if (kinds.size() > 4) {
    std::set<std::string> rules;
    for (const auto& [kind, r] : kinds) rules.insert(r.begin(), r.end());
    return "any of " + std::to_string(kinds.size()) + " ops\\n(" + join(rules) + ")";
  }
  for (const auto& [kind, r] : kinds)
    label += (label.empty() ? "" : "\\n") + kind + " (" + join(r) + ")";
  return label;
}

// The state diagram: per component of diagram_components(), its values as nodes and the op
// kinds that move it, with their rules, as edge labels.
template <class B, class X>
std::string spec_dot(const X& x) {
  std::string out = "// Generated by `" + command_line<B>(x.profile, "dot") + "`; do not edit.\n";
  out += "digraph \"" + x.protocol + " " + x.profile + "\" {\n  rankdir=LR;\n";
  out += "  node [shape=box, style=rounded, fontname=\"Helvetica\", fontsize=10];\n";
  out += "  edge [fontname=\"Helvetica\", fontsize=8];\n";
  for (const std::string& key : ExploreTraits<B>::diagram_components()) {
    std::map<std::pair<std::string, std::string>, std::map<std::string, std::set<std::string>>>
        edges;
    std::set<std::string> nodes;
    for (const auto& t : x.transitions)
      for (const Change& c : t.changes)
        if (c.key == key) {
          edges[{c.from, c.to}][t.kind].insert(t.rule);
          nodes.insert(c.from);
          nodes.insert(c.to);
        }
    out += "  subgraph \"cluster_" + key + "\" {\n    label=\"" + key + "\";\n";
    for (const std::string& n : nodes)
      out += "    \"" + key + ":" + n + "\" [label=\"" + (n == "-" ? "(none)" : n) + "\"];\n";
    out += "  }\n";
    for (const auto& [e, kinds] : edges)
      out += "  \"" + key + ":" + e.first + "\" -> \"" + key + ":" + e.second + "\" [label=\"" +
             edge_label(kinds) + "\"];\n";
  }
  return out + "}\n";
}

template <class B, class X>
nlohmann::json spec_json(const X& x) {
  nlohmann::json transitions = nlohmann::json::array();
  for (const auto& t : x.transitions)
    transitions.push_back({{"state", t.state},
                           {"op_class", t.op_class()},
                           {"outcome", t.outcome},
                           {"after", t.after},
                           {"change", change_text(t.changes)},
                           {"resources", t.resources},
                           {"rule", t.rule},
                           {"program", B::P::call_lines(t.program)}});
  nlohmann::json choices = nlohmann::json::object();
  for (const auto& c : ExploreTraits<B>::choices())
    for (const auto* p : B::profiles().shipped()) choices[c.name][p->name] = c.option(*p);
  return document(
      "spec", kOk,
      {{"protocol", x.protocol},
       {"profile", x.profile},
       {"bounds", {{"max_depth", x.bounds.max_depth}, {"max_states", x.bounds.max_states}}},
       {"states", x.states.size()},
       {"unexpanded", x.unexpanded.size()},
       {"op_classes", x.op_classes},
       {"pairs", x.reachable()},
       {"transitions", transitions},
       {"choices", choices}});
}

int write_out(const std::string& text, const std::string& path) {
  if (path.empty() || path == "-") {
    std::cout << text;
    return kOk;
  }
  std::ofstream f(path, std::ios::binary);
  f << text;
  if (!f.flush()) {
    std::cerr << "lockstep spec: cannot write " << path << "\n";
    return kUsage;
  }
  return kOk;
}

}  // namespace

int spec(const SpecOptions& o) {
  if (!o.diff.empty()) return write_out(spec_diff_text(o.diff[0], o.diff[1]), o.out);
  return with_binding(o.protocol, [&](auto binding) {
    using B = decltype(binding);
    const std::string profile =
        o.profile.empty() ? B::profiles().shipped().front()->name : o.profile;
    if (!B::has_profile(profile)) {
      std::cerr << "lockstep spec: unknown " << B::kName << " profile '" << profile
                << "' (valid: " << B::profile_names() << ")\n";
      return static_cast<int>(kUsage);
    }
    const auto x = explore<B>(profile);
    if (o.format == "json") return write_out(spec_json<B>(x).dump(1) + "\n", o.out);
    if (o.format == "dot") return write_out(spec_dot<B>(x), o.out);
    return write_out(spec_markdown<B>(x), o.out);
  });
}

}  // namespace lockstep::tools
