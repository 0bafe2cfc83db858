#include "core/mshv/ops.h"

#include <cerrno>
#include <iterator>

#include "core/errno_names.h"
#include "core/fail_next.h"
#include "core/overloaded.h"

namespace lockstep::mshv {
const char* Protocol::op_name(const Op& op) {
  return std::visit(Overloaded{
                        [](const OpenPartition&) { return "OPEN_PARTITION"; },
                        [](const OpenFile&) { return "OPEN_FILE"; },
                        [](const CreateDevice&) { return "CREATE_DEVICE"; },
                        [](const SetAttr&) { return "SET_DEVICE_ATTR"; },
                        [](const HasAttr&) { return "HAS_DEVICE_ATTR"; },
                        [](const GetAttr&) { return "GET_DEVICE_ATTR"; },
                        [](const RawIoctl&) { return "IOCTL"; },
                        [](const Close&) { return "CLOSE"; },
                        [](const FailNext&) { return "FAIL_NEXT"; },
                    },
                    op);
}

const char* Protocol::first_difference(const Outcome& m, const Outcome& t) {
  if (m.err != t.err) return "err";
  if (m.res.partitions != t.res.partitions) return "resources.partitions";
  if (m.res.partition_refs != t.res.partition_refs) return "resources.partition_refs";
  if (m.res.devices != t.res.devices) return "resources.devices";
  if (m.res.file_refs != t.res.file_refs) return "resources.file_refs";
  return nullptr;
}

std::string to_string(Site site) {
  return site_name(site);
}

int fault_errno(const FailNext& f) {
  return fault_errno_at(f.site, f.err);
}

bool FailNext::operator==(const FailNext& o) const {
  return site == o.site && fault_errno(*this) == fault_errno(o);
}

std::string to_string(const Outcome& o) {
  std::string out = o.err ? errno_name(o.err) : "= 0";
  out += "  [partitions=" + std::to_string(o.res.partitions) +
         " refs=" + std::to_string(o.res.partition_refs) +
         " devices=" + std::to_string(o.res.devices) +
         " file_refs=" + std::to_string(o.res.file_refs) + "]";
  return out;
}

}  // namespace lockstep::mshv
