// The explorer's traits of each protocol (tools/explore.h): the op alphabet, the state class,
// the bounds, and the profile switches `lockstep spec` lists as the profiles' choices.
#pragma once
#include <string>
#include <vector>

#include "tools/bindings.h"
#include "tools/explore.h"

namespace lockstep::tools {

// One profile switch and the option a profile takes, read from the profile itself.
template <class Profile>
struct Choice {
  std::string name;  // the member of the profile struct
  std::string rule;  // the rule it relaxes or where it comes from
  std::function<std::string(const Profile&)> option;
};

template <>
struct ExploreTraits<MshvBinding> {
  using Model = mshv::Model;
  static Bounds bounds();
  static std::vector<OpClass<Model, mshv::Op>> alphabet(const mshv::Profile& profile);
  static StateClass state_class(const Model& model);
  static std::string outcome(const mshv::Outcome& o);
  static std::string resources_delta(const mshv::Resources& before, const mshv::Resources& after);
  static std::vector<Choice<mshv::Profile>> choices();
  static std::vector<std::string> diagram_components();  // the lifecycles `spec --format dot` draws
};

template <>
struct ExploreTraits<VhostBinding> {
  using Model = vhost::Model;
  static Bounds bounds();
  static std::vector<OpClass<Model, vhost::Op>> alphabet(const vhost::Profile& profile);
  static StateClass state_class(const Model& model);
  static std::string outcome(const vhost::Outcome& o);
  static std::string resources_delta(const vhost::Resources& before, const vhost::Resources& after);
  static std::vector<Choice<vhost::Profile>> choices();
  static std::vector<std::string> diagram_components();
};

// "devices +1, file_refs -1" from named counts before and after; "" when none changed.
std::string count_delta(const std::vector<std::pair<std::string, std::pair<int, int>>>& counts);

}  // namespace lockstep::tools
