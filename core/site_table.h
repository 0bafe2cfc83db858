// A table of fault sites (core/mshv/sites.def, core/vhost/sites.def, core/vhost/daemon_sites.def)
// read one way by every consumer. Each table is expanded by core/site_table.inc into its own
// namespace (enum class Site, kSiteCount, its rows); the lookups below are the same for all.
//
// A row: LOCKSTEP_SITE(Id, "name", "call", errno...)
//   name: how programs and command lines spell the site (fail_next(name, ERRNO), --fail-next);
//   call: what the code calls there; errno...: what that call can return for the arguments
//   passed there, per its man page, the first being the default. Rows are append-only: the
//   fuzz-input codecs store a site as its row number.
#pragma once
#include <cerrno>  // the rows' errnos
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/errno_names.h"

namespace lockstep {

struct SiteRow {
  const char* name;
  const char* call;
  std::span<const int> errnos;
};

// The site of table S named `name`.
template <class S>
std::optional<S> site_named(std::string_view name) {
  const std::span<const SiteRow> rows = site_rows(S{});
  for (size_t i = 0; i < rows.size(); ++i)
    if (name == rows[i].name) return static_cast<S>(i);
  return std::nullopt;
}

// "a, b or c": every site of table S, for error messages.
template <class S>
std::string site_names() {
  const std::span<const SiteRow> rows = site_rows(S{});
  std::string out;
  for (size_t i = 0; i < rows.size(); ++i)
    out += std::string(i ? i + 1 == rows.size() ? " or " : ", " : "") + rows[i].name;
  return out;
}

// The errno named `name` if `site` lists it.
template <class S>
std::optional<int> site_errno_named(S site, std::string_view name) {
  const std::optional<int> err = errno_from_name(name);
  for (int e : site_errnos(site))
    if (err == e) return err;
  return std::nullopt;
}

// "EINTR, EIO": the errnos `site` lists, for error messages.
template <class S>
std::string site_errno_names(S site) {
  std::string out;
  for (int e : site_errnos(site)) out += (out.empty() ? "" : ", ") + errno_name(e);
  return out;
}

}  // namespace lockstep
