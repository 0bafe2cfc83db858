// The KVM reproducer generator: the runtime (kvm_runtime.inc), the ioctl numbers from
// core/mshv/uapi.h, one table row per op with the model's errno under the program's profile and
// under the KVM peer's, and one emitter per op kind (std::visit: a new op makes the compiler ask
// for its emitter). The program is first put in KVM's numbers (peers/kvm/mapping.h).
#include <sstream>

#include "core/errno_names.h"
#include "core/mshv/codec.h"
#include "core/mshv/uapi.h"
#include "model/mshv/model.h"
#include "peers/kvm/mapping.h"
#include "tools/repro/c_text.h"
#include "tools/repro/repro.h"

namespace lockstep::tools {
namespace {

namespace uapi = mshv::uapi;

const char* const kRuntime =
#include "tools/repro/kvm_runtime.inc"
    ;

// "(struct handle){K_DEVICE, 0}"
std::string handle(Handle h) {
  const char* kind = h.kind == mshv::kPartition  ? "K_PARTITION"
                     : h.kind == mshv::kDevice   ? "K_DEVICE"
                     : h.kind == mshv::kVfioFile ? "K_VFIO_FILE"
                                                 : "K_PLAIN_FILE";
  return "(struct handle){" + std::string(kind) + ", " + std::to_string(h.index) + "}";
}

const char* mem(mshv::Mem m) {
  return m == mshv::Mem::Ok ? "MEM_OK" : m == mshv::Mem::ReadOnly ? "MEM_RO" : "MEM_BAD";
}

// A KVM ioctl number with the constant it is, when it is one (peers/kvm/mapping.h's rows).
std::string request(uint32_t r) {
  for (const auto& row : peers::kvm::kRequests)
    if (row.kvm == r) return c_hex(r) + " /* KVM " + row.name + " */";
  return c_hex(r) + " /* not a KVM device ioctl */";
}

// ---- one emitter per op kind: the call that performs it, given the handle it makes --------------

std::string emit(const mshv::OpenPartition&, Handle made) {
  return "op_open_partition(" + handle(made) + ")";
}
std::string emit(const mshv::OpenFile&, Handle made) {  // a plain file (vfio: refused before)
  return "op_open_file(" + handle(made) + ")";
}
std::string emit(const mshv::CreateDevice& c, Handle made) {
  return "op_create_device(" + handle(c.part) + ", " + handle(made) + ", " +
         std::to_string(c.type) +
         (c.type == uapi::kKvmDevTypeVfio ? " /* KVM_DEV_TYPE_VFIO */" : "") + ", " +
         c_hex(c.flags) +
         (c.flags & uapi::kKvmCreateDeviceTest ? " /* KVM_CREATE_DEVICE_TEST */" : "") + ", " +
         mem(c.arg) + ")";
}
std::string attr(const mshv::AttrArgs& a, uint32_t req) {
  const int kind = a.fd.kind == mshv::FdArg::Kind::Handle ? 0
                   : a.fd.kind == mshv::FdArg::Kind::Raw  ? 1
                                                          : 2;
  return "op_attr(" + handle(a.dev) + ", " + request(req) + ", " + c_hex(a.flags) + ", " +
         std::to_string(a.group) + " /* group */, " + std::to_string(a.attr) + " /* attr */, " +
         std::to_string(kind) + ", " + handle(a.fd.handle) + ", " + std::to_string(a.fd.raw) +
         ", " + mem(a.arg) + ")";
}
std::string emit(const mshv::SetAttr& a, Handle) {
  return attr(a, uapi::kKvmSetDeviceAttr);
}
std::string emit(const mshv::HasAttr& a, Handle) {
  return attr(a, uapi::kKvmHasDeviceAttr);
}
std::string emit(const mshv::GetAttr& a, Handle) {
  return attr(a, uapi::kKvmGetDeviceAttr);
}
std::string emit(const mshv::RawIoctl& r, Handle) {
  return "op_ioctl(" + handle(r.h) + ", " + request(r.request) + ")";
}
std::string emit(const mshv::Close& c, Handle) {
  return "op_close(" + handle(c.h) + ")";
}
// Refused before generation (kvm::first_unsupported): no fault injection into the kernel.
std::string emit(const mshv::FailNext&, Handle) {
  return "0 /* fail_next: not performed */";
}

// The step table: per op its line, its call and the model's errno under both profiles (the
// peer's on the ops in KVM numbers, as `lockstep peer kvm` runs it).
std::string steps_table(const mshv::Trace& trace, const mshv::Trace& kvm_trace,
                        const std::string& peer_profile) {
  mshv::Model spec(*mshv::find_profile(trace.profile));
  mshv::Model peer(*mshv::find_profile(peer_profile));
  const std::vector<std::string> calls = mshv::Protocol::call_lines(trace.ops);
  std::ostringstream o;
  o << "static const struct step steps[] = {\n";
  for (size_t i = 0; i < trace.ops.size(); ++i) {
    const int want = spec.step(trace.ops[i]).err;
    const int theirs = peer.step(kvm_trace.ops[i]).err;
    const int line = i < trace.source.op_lines.size() ? trace.source.op_lines[i] : int(i + 1);
    o << "    {" << line << ", " << c_string(calls[i]) << ", " << want << ", " << theirs << ", "
      << c_string(want ? errno_name(want) : "0") << ", "
      << c_string(theirs ? errno_name(theirs) : "0") << "},\n";
  }
  o << "};\n";
  return o.str();
}

}  // namespace

std::string kvm_reproducer(const mshv::Trace& trace, peers::kvm::Vocabulary vocabulary,
                           const std::string& peer_profile, const std::string& source) {
  const mshv::Trace kvm_trace = peers::kvm::to_kvm(trace, vocabulary);
  std::ostringstream o;
  o << "/* A reproducer written by `lockstep repro` from " << c_comment(source) << "\n"
    << " * (MSHV VFIO bridge device on KVM's kvm-vfio, " << trace.ops.size()
    << " ops; expectations: the lockstep model under " << trace.profile << "\n"
    << " * (the program's profile) and under " << peer_profile << ").\n"
    << " *\n"
    << " * Build: cc -std=c11 -Wall -Wextra -Werror -o repro THIS_FILE.c\n"
    << " * Run:   ./repro   (needs /dev/kvm)\n"
    << " * Exit:  0 KVM returned what " << trace.profile
    << " says at every op, 1 it deviated (the reproducer shows the\n"
    << " *        difference, or an fd the program closed is still open), 2 usage, 3 /dev/kvm\n"
    << " *        cannot be used.\n"
    << " * LOCKSTEP_REPRO_TEST_SKIP_CLOSE (cc -D): test-only, the first close is skipped.\n"
    << " */\n"
    << "#define SPEC_PROFILE " << c_string(trace.profile) << "\n"
    << "#define PEER_PROFILE " << c_string(peer_profile) << "\n"
    << "#define KVM_CREATE_DEVICE_NR " << c_hex(uapi::kKvmCreateDevice)
    << " /* KVM_CREATE_DEVICE */\n"
    << kRuntime << "\n"
    << steps_table(trace, kvm_trace, peer_profile) << "\n"
    << "int main(int argc, char **argv) {\n"
    << "  if (argc != 1) {\n"
    << "    fprintf(stderr, \"usage: %s\\n\", argv[0]);\n"
    << "    return 2;\n"
    << "  }\n"
    << "  int rc = start();\n"
    << "  if (rc) return rc;\n"
    << "  int deviations = 0, at_start[FD_KINDS];\n"
    << "  count_fds(at_start);\n";
  mshv::HandleCounts counts;
  for (size_t i = 0; i < kvm_trace.ops.size(); ++i) {
    const Handle made = counts.create(kvm_trace.ops[i]).value_or(Handle{});
    o << "  deviations += check(&steps[" << i << "], " << i << ", "
      << std::visit([&](const auto& op) { return emit(op, made); }, kvm_trace.ops[i]) << ");\n";
  }
  o << "  int leaked = fd_count(at_start);\n"
    << "  printf(\"%s\\n\", deviations ? \"REPRODUCED: KVM deviates from \" SPEC_PROFILE\n"
    << "                              : \"KVM returned what \" SPEC_PROFILE \" says\");\n"
    << "  return deviations || leaked ? 1 : 0;\n}\n";
  return o.str();
}

}  // namespace lockstep::tools
