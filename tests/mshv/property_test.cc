// rapidcheck stateful property: any sequence of MSHV ops gives the same outcomes on the model
// and on the real device layer, and leaves the process's fds as the model predicts. A failing
// case prints the shrunk sequence as a readable program (one `show` line per op).
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>
#include <rapidcheck/state.h>

#include "core/fd_oracle.h"
#include "core/mshv/codec.h"
#include "core/mshv/uapi.h"
#include "impl/mshv/target.h"
#include "model/mshv/model.h"

namespace lockstep::mshv {
namespace {

// What generation needs to know: how many handles of each kind exist.
struct GenState {
  HandleCounts counts;
};

// Both sides, stepped together.
struct Sides {
  Model model;
  ImplTarget target;
};

rc::Gen<Handle> handle_of(const GenState& s) {
  return rc::gen::mapcat(
      rc::gen::element(kPartition, kDevice, kVfioFile, kPlainFile), [s](char kind) {
        return rc::gen::map(rc::gen::inRange<int>(0, s.counts.of(kind) + 1), [kind](int i) {
          return Handle{kind, static_cast<uint8_t>(i)};
        });
      });
}

rc::Gen<FdArg> fd_arg_of(const GenState& s) {
  return rc::gen::oneOf(rc::gen::map(handle_of(s),
                                     [](Handle h) {
                                       return FdArg{FdArg::Kind::Handle, h, -1};
                                     }),
                        rc::gen::just(FdArg{FdArg::Kind::Raw, {}, -1}),
                        rc::gen::just(FdArg{FdArg::Kind::Unmapped, {}, -1}));
}

rc::Gen<Mem> mem() {
  return rc::gen::weightedElement<Mem>({{8, Mem::Ok}, {1, Mem::ReadOnly}, {1, Mem::Unmapped}});
}

template <class A>
rc::Gen<Op> attr_op(const GenState& s) {
  return rc::gen::map(
      rc::gen::tuple(handle_of(s), rc::gen::element(0u, 0xffffffffu),
                     rc::gen::weightedElement<uint32_t>({{6, 1u}, {1, 0u}, {1, 2u}}),
                     rc::gen::weightedElement<uint64_t>({{4, 1u}, {3, 2u}, {1, 3u}}), fd_arg_of(s),
                     mem()),
      [](auto t) -> Op {
        A a;
        std::tie(a.dev, a.flags, a.group, a.attr, a.fd, a.arg) = t;
        return a;
      });
}

rc::Gen<Op> op_of(const GenState& s) {
  return rc::gen::weightedOneOf<Op>({
      {2, rc::gen::just<Op>(OpenPartition{})},
      {2, rc::gen::map(rc::gen::arbitrary<bool>(), [](bool v) -> Op { return OpenFile{v}; })},
      {4, rc::gen::map(rc::gen::tuple(handle_of(s), rc::gen::element(0u, 0u, 1u, 4u),
                                      rc::gen::element(0u, 1u, 2u), mem()),
                       [](auto t) -> Op {
                         auto [part, type, flags, arg] = t;
                         return CreateDevice{part, type, flags, arg};
                       })},
      {6, attr_op<SetAttr>(s)},
      {1, attr_op<HasAttr>(s)},
      {1, attr_op<GetAttr>(s)},
      {1, rc::gen::map(rc::gen::tuple(handle_of(s),
                                      rc::gen::element(uapi::kSetDeviceAttr, uapi::kHasDeviceAttr,
                                                       uapi::kCreateDevice, 0x4018b802u)),
                       [](auto t) -> Op {
                         return RawIoctl{std::get<0>(t), std::get<1>(t)};
                       })},
      {3, rc::gen::map(handle_of(s), [](Handle h) -> Op { return Close{h}; })},
      {2, rc::gen::mapcat(rc::gen::inRange<size_t>(0, kSiteCount),
                          [](size_t row) {  // any site of core/mshv/sites.def, any of its errnos
                            const auto site = static_cast<Site>(row);
                            const auto errnos = site_errnos(site);
                            return rc::gen::map(
                                rc::gen::elementOf(std::vector<int>(errnos.begin(), errnos.end())),
                                [site](int err) -> Op {
                                  return FailNext{site, err};
                                });
                          })},
  });
}

struct Step : rc::state::Command<GenState, Sides> {
  Op op;
  std::string text;  // the readable call, fixed at generation time
  explicit Step(const GenState& s) : op(*op_of(s)), text(format_call(to_call(op, s.counts))) {}
  void apply(GenState& s) const override { s.counts.create(op); }
  void run(const GenState&, Sides& sides) const override {
    Outcome expected = sides.model.step(op);
    Outcome actual = sides.target.step(op);
    RC_ASSERT(Protocol::first_difference(expected, actual) == nullptr);
    RC_ASSERT(expected == actual);
  }
  void show(std::ostream& os) const override { os << text; }
};

void check_profile(const std::string& profile) {
  const FdSet before = FdSet::current();
  Sides sides{Model(*find_profile(profile)), ImplTarget(profile)};
  rc::state::check(GenState{}, sides, rc::state::gen::execOneOfWithArgs<Step>());
  sides.target.finish();
  const int delta = FdSet::current().delta_since(before);
  sides.target.reap();
  RC_ASSERT(delta == sides.model.fds_left_open());
}

RC_GTEST_PROP(MshvProperty, V1ModelAndImplAgree, ()) {
  check_profile("mshv-v1");
}
RC_GTEST_PROP(MshvProperty, StrictModelAndImplAgree, ()) {
  check_profile("mshv-strict");
}

}  // namespace
}  // namespace lockstep::mshv
