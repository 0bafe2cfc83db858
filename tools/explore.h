// The model explorer behind `lockstep spec` and `lockstep corpus gen`: a breadth-first search
// over a protocol's pure model (model/<protocol>/, no I/O, no impl) from the initial state, with
// a small finite alphabet of representative ops (one per op class: an op kind with an argument
// class) and an abstraction of the model's state into a state class. For every (state class,
// op class) pair it reaches it records the outcome, the state class after, the resources taken
// or released, the rule the model cites (Model::rule()) and the shortest program reaching it
// (the BFS path, then the op). Generic over a protocol binding (tools/bindings.h); what is
// protocol-specific (the alphabet, the abstraction, the profile switches) is its ExploreTraits
// (tools/explore_mshv.cc, tools/explore_vhost.cc).
//
// The abstraction is exact enough to be a specification and small enough to read: the first
// program that reaches a state class stands for every program that does (BFS: it is a shortest
// one), so an outcome that depends on what the class forgets would show only its first
// representative. Each protocol's traits say what their class keeps and why.
#pragma once
#include <cstddef>
#include <deque>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace lockstep::tools {

// A state class as named components ("p0" -> "open"), in a fixed order; an absent object's
// component is "-".
using StateClass = std::vector<std::pair<std::string, std::string>>;

// "p0=open d0=live@p0[f0]": the components that are not "-"; "initial" when none is.
inline std::string class_name(const StateClass& c) {
  std::string out;
  for (const auto& [key, value] : c)
    if (value != "-") out += (out.empty() ? "" : " ") + key + "=" + value;
  return out.empty() ? "initial" : out;
}

// A component that changed: its key, its value before, its value after.
struct Change {
  std::string key, from, to;
};

inline std::vector<Change> class_changes(const StateClass& before, const StateClass& after) {
  std::vector<Change> out;
  for (size_t i = 0; i < before.size() && i < after.size(); ++i)
    if (before[i].second != after[i].second)
      out.push_back({before[i].first, before[i].second, after[i].second});
  return out;
}

// "d0: - -> live@p0; p0: open -> held"; "unchanged" when nothing changed.
inline std::string change_text(const std::vector<Change>& changes) {
  std::string out;
  for (const Change& c : changes)
    out += (out.empty() ? "" : "; ") + c.key + ": " + c.from + " -> " + c.to;
  return out.empty() ? "unchanged" : out;
}

// One op class of the alphabet: `make` builds its representative op from the model's state
// (handles chosen from it), or nullopt when the state has no object of the kind it needs.
template <class Model, class Op>
struct OpClass {
  std::string kind;   // the op or request, the unit the spec groups by: "create_device"
  std::string args;   // the argument class: "valid partition, type VFIO"
  std::string needs;  // what `make` needs from the state, for the pairs it cannot express
  std::function<std::optional<Op>(const Model&)> make;
  std::string name() const { return kind + "(" + args + ")"; }
};

template <class Op>
struct Transition {
  std::string state, kind, args;  // the condition: state class + op class
  std::string outcome;            // errno / reply shape / close, in the program's note syntax
  std::string after;              // the state class after
  std::vector<Change> changes;    // class_changes(before, after)
  std::string resources;          // what was taken or released: "devices +1"; "" for nothing
  std::string rule;               // Model::rule()
  std::vector<Op> program;        // the shortest program: the BFS path to `state`, then the op
  std::string op_class() const { return kind + "(" + args + ")"; }
};

struct Unexpressed {  // a (state class, op class) pair the alphabet cannot build
  std::string state, op_class, why;
};

// Bounds of the search, each protocol's with its reason (ExploreTraits::bounds()).
struct Bounds {
  size_t max_depth = 0;   // ops in a program
  size_t max_states = 0;  // state classes expanded
};

template <class Op>
struct Exploration {
  std::string protocol, profile;
  Bounds bounds;
  std::vector<std::string> states;          // every state class reached, in BFS order
  std::vector<Transition<Op>> transitions;  // every (state class, op class) pair reached
  std::vector<Unexpressed> unexpressed;     // pairs of expanded states the alphabet cannot build
  std::vector<std::string> unexpanded;      // state classes reached but left by the bounds
  std::vector<std::string> op_classes;      // the alphabet's names, in order
  // Every pair of an expanded state that the alphabet can build is reached and recorded.
  size_t reachable() const { return transitions.size(); }
};

template <class Binding>
struct ExploreTraits;  // specialised per protocol binding

// The search: from the initial state, every op class in every state class reached, within the
// traits' bounds. Pure and deterministic: the same profile gives the same exploration. The
// alphabet's values (a VFIO type, the offered features) come from `alphabet_of` (default: the
// profile itself); `spec --diff` gives both profiles the first's, so both run the same ops.
template <class B>
auto explore(const std::string& profile, std::string alphabet_of = "") {
  using T = ExploreTraits<B>;
  using Op = typename B::P::Op;
  using Model = typename B::Model;
  struct Node {
    Model model;
    std::vector<Op> path;
  };
  Exploration<Op> x;
  x.protocol = std::string(B::kName);
  x.profile = profile;
  x.bounds = T::bounds();
  const auto alphabet =
      T::alphabet(*B::profiles().find(alphabet_of.empty() ? profile : alphabet_of));
  for (const auto& c : alphabet) x.op_classes.push_back(c.name());
  std::deque<Node> queue;
  std::set<std::string> seen;  // the state classes reached so far
  queue.push_back({B::model(profile), {}});
  seen.insert(class_name(T::state_class(queue.front().model)));
  for (; !queue.empty(); queue.pop_front()) {
    const Node& node = queue.front();
    const StateClass before = T::state_class(node.model);
    const std::string name = class_name(before);
    x.states.push_back(name);
    if (node.path.size() >= x.bounds.max_depth || x.states.size() > x.bounds.max_states) {
      x.unexpanded.push_back(name);  // reached, not expanded: its pairs lie beyond the bounds
      continue;
    }
    for (const auto& c : alphabet) {
      std::optional<Op> op = c.make(node.model);
      if (!op) {
        x.unexpressed.push_back({name, c.name(), "needs " + c.needs});
        continue;
      }
      Model m = node.model;
      const auto res_before = m.resources();
      const auto outcome = m.step(*op);
      const StateClass after = T::state_class(m);
      Transition<Op> t{name,
                       c.kind,
                       c.args,
                       T::outcome(outcome),
                       class_name(after),
                       class_changes(before, after),
                       T::resources_delta(res_before, outcome.res),
                       std::string(m.rule()),
                       node.path};
      t.program.push_back(*op);
      if (seen.insert(t.after).second) queue.push_back({std::move(m), t.program});
      x.transitions.push_back(std::move(t));
    }
  }
  return x;
}

}  // namespace lockstep::tools
