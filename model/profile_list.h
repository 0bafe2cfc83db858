// A protocol's fixed list of profiles, written once for both protocols: the shipped ones (the
// spec and the implementations it is compared with) and the negative variants (`mutant`), which
// exist to prove that the proofs and oracles fire. Profile is a protocol's profile struct with
// `name`, `summary` and `mutant` members.
#pragma once
#include <deque>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/program_text.h"

namespace lockstep {

// A profile with every switch at its default: the start of a protocol's base profiles.
template <class Profile>
Profile named_profile(std::string name, std::string summary) {
  Profile p;
  p.name = std::move(name);
  p.summary = std::move(summary);
  return p;
}

// A negative variant: `base` with one switch turned on (or, without a switch, as the caller
// changed it).
template <class Profile>
Profile mutant_of(Profile base, std::string name, std::string summary,
                  bool Profile::*flag = nullptr) {
  base.name = std::move(name);
  base.summary = std::move(summary);
  if (flag) base.*flag = true;
  base.mutant = true;
  return base;
}

template <class Profile>
class ProfileList {
 public:
  ProfileList(std::initializer_list<Profile> profiles) : profiles_(profiles) {}

  const Profile* find(std::string_view name) const {
    for (const Profile& p : profiles_)
      if (p.name == name) return &p;
    return nullptr;
  }
  std::vector<const Profile*> shipped() const { return select(false); }
  std::vector<const Profile*> mutants() const { return select(true); }
  // "a, b, c": the shipped profiles, then (with_mutants) the negative variants.
  std::string names(bool with_mutants = true) const {
    std::string out;
    for (bool mutant : {false, true})
      if (!mutant || with_mutants)
        for (const Profile* p : select(mutant)) out += (out.empty() ? "" : ", ") + p->name;
    return out;
  }

 private:
  std::vector<const Profile*> select(bool mutant) const {
    std::vector<const Profile*> out;
    for (const Profile& p : profiles_)
      if (p.mutant == mutant) out.push_back(&p);
    return out;
  }
  std::deque<Profile> profiles_;  // never resized: the pointers handed out stay valid
};

// A parsed program whose header names none of `list`'s profiles is refused at the profile's
// position, the valid names listed.
template <class Trace, class List>
Trace with_known_profile(Trace trace, const List& list, std::string_view protocol) {
  if (list.find(trace.profile)) return trace;
  throw ParseError(trace.source.header_line, trace.source.profile_column,
                   "unknown " + std::string(protocol) + " profile '" + trace.profile +
                       "' (valid: " + list.names() + ")");
}

}  // namespace lockstep
