// errno values <-> their symbolic names, for the "# EEXIST" annotations of readable traces.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace lockstep {

// "EEXIST" for EEXIST; "E<n>" for a value without a name here.
std::string errno_name(int err);
// Inverse of errno_name; nullopt for an unknown name.
std::optional<int> errno_from_name(std::string_view name);

}  // namespace lockstep
