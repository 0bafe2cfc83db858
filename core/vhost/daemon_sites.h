// The fault sites of lockstep-vhost-backend (core/vhost/daemon_sites.def) as daemon::Site.
#pragma once
#include "core/site_table.h"

namespace lockstep::vhost::daemon {

#define LOCKSTEP_SITES_DEF "core/vhost/daemon_sites.def"
#include "core/site_table.inc"

}  // namespace lockstep::vhost::daemon
