#include "core/errno_names.h"

#include <array>
#include <cerrno>
#include <charconv>
#include <utility>

namespace lockstep {
namespace {

// The errnos the two protocols can produce; anything else prints as E<n>.
constexpr std::array<std::pair<int, std::string_view>, 22> kNames{{
    {EPERM, "EPERM"},           {ENOENT, "ENOENT"},     {EINTR, "EINTR"},   {EIO, "EIO"},
    {ENXIO, "ENXIO"},           {EBADF, "EBADF"},       {EAGAIN, "EAGAIN"}, {ENOMEM, "ENOMEM"},
    {EFAULT, "EFAULT"},         {EBUSY, "EBUSY"},       {EEXIST, "EEXIST"}, {ENODEV, "ENODEV"},
    {EINVAL, "EINVAL"},         {EMFILE, "EMFILE"},     {ENOTTY, "ENOTTY"}, {ENOSPC, "ENOSPC"},
    {EPIPE, "EPIPE"},           {ENOSYS, "ENOSYS"},     {EPROTO, "EPROTO"}, {EBADMSG, "EBADMSG"},
    {ECONNRESET, "ECONNRESET"}, {ENOTCONN, "ENOTCONN"},
}};

}  // namespace

std::string errno_name(int err) {
  for (const auto& [value, name] : kNames)
    if (value == err) return std::string(name);
  return "E" + std::to_string(err);
}

std::optional<int> errno_from_name(std::string_view name) {
  for (const auto& [value, known] : kNames)
    if (known == name) return value;
  if (name.size() > 1 && name[0] == 'E') {
    int value = 0;
    auto [end, ec] = std::from_chars(name.data() + 1, name.data() + name.size(), value);
    if (ec == std::errc() && end == name.data() + name.size()) return value;
  }
  return std::nullopt;
}

}  // namespace lockstep
