// What the protocols' FailNext (fail_next(site, ERRNO): the next call at a fault site of
// core/site_table.h fails) share: the errno it injects and its fuzz-input form.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>

#include "core/bytes.h"
#include "core/errno_names.h"
#include "core/site_table.h"

namespace lockstep {

// `err`, or the first errno `site` lists when it is 0 (0 where it lists none).
template <class S>
int fault_errno_at(S site, int err) {
  if (err) return err;
  const std::span<const int> errnos = site_errnos(site);
  return errnos.empty() ? 0 : errnos[0];
}

// A FailNext of the legacy form: v1 one byte (one of the first `sites_v1` sites, its first
// errno), v2 two (any site, an index into its errnos); the structured form reads v2's two bytes.
template <class FailNext>
FailNext read_fail_next(ByteReader& in, bool v2, size_t sites_v1) {
  using Site = decltype(FailNext::site);
  if (!v2) return FailNext{static_cast<Site>(in.u8() % sites_v1), 0};
  const auto site = static_cast<Site>(in.u8() % site_rows(Site{}).size());
  const std::span<const int> errnos = site_errnos(site);
  return FailNext{site, errnos[in.u8() % errnos.size()]};
}

// The two bytes read_fail_next reads back (v2): the site's row, the errno's index among its
// errnos; std::invalid_argument for an errno the site does not list.
template <class FailNext>
void write_fail_next(ByteWriter& out, const FailNext& f) {
  const std::span<const int> errnos = site_errnos(f.site);
  const auto it = std::find(errnos.begin(), errnos.end(), fault_errno(f));
  if (it == errnos.end())
    throw std::invalid_argument("fail_next(" + to_string(f.site) + ", " +
                                errno_name(fault_errno(f)) + "): not an errno of that site");
  out.u8(static_cast<uint8_t>(f.site));
  out.u8(static_cast<uint8_t>(it - errnos.begin()));
}

}  // namespace lockstep
