// std::visit over a set of lambdas: std::visit(Overloaded{[](const A&) {...}, ...}, v).
#pragma once

namespace lockstep {

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;  // clang 14 needs the guide for aggregates

}  // namespace lockstep
