// `lockstep spec --diff A B`: the (state class, op class) pairs where two profiles of one
// protocol give different outcomes, from the model explorer (tools/explore.h), each shown by a
// readable program that reaches the pair under both profiles.
#include <map>
#include <optional>
#include <stdexcept>
#include <tuple>

#include "core/table.h"
#include "tools/commands.h"
#include "tools/explore_protocols.h"

namespace lockstep::tools {
namespace {

template <class B>
using Ops = std::vector<typename B::P::Op>;

struct Run {
  std::string before_last, after;        // the state class before the last op, and after it
  std::vector<std::string> notes, full;  // each op's note; its outcome with the resources
  std::string rule;                      // the rule of the last op
};

template <class B>
Run run(const std::string& profile, const Ops<B>& ops) {
  auto model = B::model(profile);
  Run r;
  for (size_t i = 0; i < ops.size(); ++i) {
    if (i + 1 == ops.size()) r.before_last = class_name(ExploreTraits<B>::state_class(model));
    const auto outcome = model.step(ops[i]);
    r.notes.push_back(ExploreTraits<B>::outcome(outcome));
    r.full.push_back(B::P::outcome_text(outcome));
    r.rule = model.rule();
  }
  r.after = class_name(ExploreTraits<B>::state_class(model));
  return r;
}

// The pair's witness: A's shortest program (else B's) when it reaches the pair's state class
// under both profiles, with what each gives. The abstraction forgets details (how many fds
// leaked, ...), so two programs reaching one class can differ; only a common program is shown.
template <class B, class T>
std::optional<std::tuple<Ops<B>, Run, Run>> witness(const std::string& a, const std::string& b,
                                                    const T& ta, const T& tb) {
  for (const T* t : {&ta, &tb}) {
    Run ra = run<B>(a, t->program), rb = run<B>(b, t->program);
    if (ra.before_last == t->state && rb.before_last == t->state)
      return std::tuple{t->program, std::move(ra), std::move(rb)};
  }
  return std::nullopt;
}

// The program with A's outcomes as its notes and B's, where it differs, in a comment above;
// where only the resources differ (notes carry none), both outcomes with their resources; where
// only the state class after differs (it keeps what no outcome shows), both classes.
template <class B>
std::string program_text(const std::string& a, const std::string& b, const Ops<B>& ops) {
  typename B::Trace trace;
  trace.profile = a;
  trace.ops = ops;
  const Run ra = run<B>(a, ops), rb = run<B>(b, ops);
  trace.notes = ra.notes;
  for (size_t i = 0; i < ops.size(); ++i) {
    if (rb.notes[i] != ra.notes[i])
      trace.verbatim.push_back({i, false, "# under " + b + ": " + rb.notes[i]});
    else if (rb.full[i] != ra.full[i])
      trace.verbatim.push_back({i, false,
                                "# same result, other resources: " + a + ": " + ra.full[i] + "; " +
                                    b + ": " + rb.full[i]});
  }
  if (ra.notes == rb.notes && ra.full == rb.full && ra.after != rb.after)
    trace.verbatim.push_back(
        {ops.size() - 1, false,
         "# same result, other state after: " + a + ": " + ra.after + "; " + b + ": " + rb.after});
  return B::print(trace);
}

// The pairs of one (op class, outcome under A, outcome under B), with the first's witness.
template <class B>
struct Group {
  std::string op_class;
  Ops<B> program;
  Run a, b;
  std::vector<std::string> states;
};

template <class B>
std::string diff_markdown(const std::string& a, const std::string& b) {
  const auto xa = explore<B>(a), xb = explore<B>(b, a);  // the same ops under both
  using T = typename decltype(xa.transitions)::value_type;
  std::map<std::pair<std::string, std::string>, const T*> in_b;
  for (const T& t : xb.transitions) in_b[{t.state, t.op_class()}] = &t;
  std::vector<std::string> order;
  std::map<std::string, Group<B>> groups;
  size_t differing = 0, shared = 0, unwitnessed = 0;
  for (const T& ta : xa.transitions) {
    auto it = in_b.find({ta.state, ta.op_class()});
    if (it == in_b.end()) continue;
    ++shared;
    auto w = witness<B>(a, b, ta, *it->second);
    if (!w) {
      unwitnessed += ta.outcome != it->second->outcome || ta.after != it->second->after;
      continue;
    }
    auto& [program, ra, rb] = *w;
    if (ra.full.back() == rb.full.back() && ra.after == rb.after) continue;
    ++differing;
    // One row per op class and pair of results (resources and class after aside).
    const std::string key = ta.op_class() + "|" + ra.notes.back() + "|" + rb.notes.back();
    auto [g, fresh] = groups.try_emplace(key, Group<B>{ta.op_class(), program, ra, rb, {}});
    if (fresh) order.push_back(key);
    g->second.states.push_back(ta.state);
  }
  Table table({"op class", a, b, "rules", "pairs: state classes", "program"});
  std::string programs;
  for (size_t i = 0; i < order.size(); ++i) {
    const Group<B>& g = groups.at(order[i]);
    const std::string id = "d" + std::to_string(i + 1);
    table.row({g.op_class, "`" + g.a.notes.back() + "` → " + g.a.after,
               "`" + g.b.notes.back() + "` → " + g.b.after, g.a.rule + " / " + g.b.rule,
               std::to_string(g.states.size()) + ": " + g.states.front() +
                   (g.states.size() > 1 ? ", …" : ""),
               id});
    programs += "### " + id + ": " + g.op_class + "\n\n```\n" + program_text<B>(a, b, g.program) +
                "```\n\n";
  }
  std::string out = "# " + std::string(B::kName) + ": `" + a + "` vs `" + b +
                    "`\n\nGenerated by `lockstep spec --diff " + a + " " + b +
                    "` from the model explorer (`tools/explore.h`); do not edit.\n\n";
  out += std::to_string(differing) + " of the " + std::to_string(shared) +
         " (state class, op class) pairs both profiles reach with the same ops give a different "
         "outcome, state class after, or resources; one row per op class and pair of outcomes, "
         "with how many state classes it holds in and the first. Each program reaches its first "
         "pair under both profiles: `lockstep replay --target model --profile " +
         a + " FILE` agrees with its notes, and `--profile " + b +
         "` reports the line whose `# under " + b + "` comment gives " + b +
         "'s outcome; where only the resources or the state class after differ (a note carries "
         "neither), a comment gives both. A pair counts when one program (A's shortest to it, "
         "else B's) reaches it under both; " +
         std::to_string(unwitnessed) +
         " pairs whose representatives differ are reached by no such program within the bound "
         "and are left out.\n\n";
  if (differing == 0) return out + "The two profiles agree on every pair.\n";
  return out + table.markdown() + "\n## Programs\n\n" + programs;
}

}  // namespace

std::string spec_diff_text(const std::string& a, const std::string& b) {
  const bool mshv_a = MshvBinding::has_profile(a), mshv_b = MshvBinding::has_profile(b);
  const bool vhost_a = VhostBinding::has_profile(a), vhost_b = VhostBinding::has_profile(b);
  for (const auto& [name, known] :
       {std::pair{a, mshv_a || vhost_a}, std::pair{b, mshv_b || vhost_b}})
    if (!known)
      throw std::invalid_argument("spec --diff: unknown profile '" + name +
                                  "' (mshv: " + MshvBinding::profile_names() +
                                  "; vhost: " + VhostBinding::profile_names() + ")");
  if (mshv_a && mshv_b) return diff_markdown<MshvBinding>(a, b);
  if (vhost_a && vhost_b) return diff_markdown<VhostBinding>(a, b);
  throw std::invalid_argument("spec --diff: '" + a + "' and '" + b +
                              "' are profiles of different protocols");
}

}  // namespace lockstep::tools
