#include "core/errno_names.h"

#include <charconv>
#include <cstring>

namespace lockstep {
namespace {

// Linux errnos stop below 134 (EHWPOISON = 133); a bound for the reverse lookup.
constexpr int kLastErrno = 133;

}  // namespace

// glibc's strerrorname_np (2.32+) names every errno; E<n> for a value it does not know.
std::string errno_name(int err) {
  const char* name = err > 0 ? strerrorname_np(err) : nullptr;
  return name ? name : "E" + std::to_string(err);
}

std::optional<int> errno_from_name(std::string_view name) {
  for (int err = 1; err <= kLastErrno; ++err)
    if (const char* known = strerrorname_np(err); known && name == known) return err;
  if (name.size() > 1 && name[0] == 'E') {  // the E<n> spelling errno_name prints
    int value = 0;
    auto [end, ec] = std::from_chars(name.data() + 1, name.data() + name.size(), value);
    if (ec == std::errc() && end == name.data() + name.size()) return value;
  }
  return std::nullopt;
}

}  // namespace lockstep
