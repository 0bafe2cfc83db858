// What every encoding (proofs/<protocol>/encoding.h) is built on: the types the driver
// (proofs/driver.h) reads off it, its context and profile, component-wise equality; and the
// inputs of one transition T(s, a), which each encoding's Transition extends.
#pragma once
#include <z3++.h>

#include <cstdint>
#include <vector>

namespace lockstep::proofs {

template <class ProfileT, class OpT, class SymStateT, class SymActionT, class StepResultT>
class EncodingBase {
 public:
  using Profile = ProfileT;
  using Op = OpT;
  using SymState = SymStateT;
  using SymAction = SymActionT;
  using StepResult = StepResultT;

  EncodingBase(z3::context& c, const Profile& profile) : c_(c), profile_(profile) {}
  z3::context& ctx() { return c_; }
  const Profile& profile() const { return profile_; }
  z3::expr equal(const SymState& a, const SymState& b) {  // component-wise
    auto x = a.all(), y = b.all();
    z3::expr e = c_.bool_val(true);
    for (size_t i = 0; i < x.size(); ++i) e = e && x[i] == y[i];
    return e;
  }

 protected:
  z3::expr bv(uint64_t v, unsigned width) { return c_.bv_val(v, width); }
  z3::context& c_;
  const Profile& profile_;
};

// T(s, a) for one (s, a) of encoding E.
template <class E>
class TransitionBase {
 protected:
  TransitionBase(z3::context& c, const typename E::Profile& profile, const typename E::SymState& s,
                 const typename E::SymAction& a)
      : c_(c), pr_(profile), s_(s), a_(a) {}
  z3::expr bv(uint64_t v, unsigned width) { return c_.bv_val(v, width); }
  z3::context& c_;
  const typename E::Profile& pr_;
  const typename E::SymState& s_;
  const typename E::SymAction& a_;
};

}  // namespace lockstep::proofs
