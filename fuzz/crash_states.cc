#include "fuzz/crash_states.h"

#include <cstdio>
#include <cstdlib>

// Every function generated below must stay a frame of its own in a symbolized stack: never
// inlined, never left by a sibling call (CMake compiles this file with
// -fno-optimize-sibling-calls, and no call here is in tail position), and with a body no other
// frame shares (a distinct volatile store), so identical-code folding cannot merge two of them.
#define LOCKSTEP_FRAME __attribute__((noinline))

namespace lockstep::crash_state {

using FieldFrame = void (*)();
using OpFrame = void (*)(FieldFrame);

namespace {
volatile int last_frame = 0;
}  // namespace

// The names a crash state shows: <protocol>_fd_leak(), <protocol>_<OP>(field) and
// <protocol>_field_<ident>(), and <protocol>_unlisted_op(field) / <protocol>_field_unlisted()
// for an op or field without a row.
#define LOCKSTEP_CRASH_PROTOCOL(protocol)                                     \
  [[noreturn]] LOCKSTEP_FRAME void protocol##_fd_leak() {                     \
    last_frame = 3 * __LINE__;                                                \
    std::abort();                                                             \
  }                                                                           \
  [[noreturn]] LOCKSTEP_FRAME void protocol##_field_unlisted() {              \
    last_frame = 3 * __LINE__ + 1;                                            \
    std::abort();                                                             \
  }                                                                           \
  [[noreturn]] LOCKSTEP_FRAME void protocol##_unlisted_op(FieldFrame field) { \
    last_frame = 3 * __LINE__ + 2;                                            \
    field();                                                                  \
    std::abort();                                                             \
  }
#define LOCKSTEP_CRASH_OP(protocol, name)                                \
  [[noreturn]] LOCKSTEP_FRAME void protocol##_##name(FieldFrame field) { \
    last_frame = 3 * __LINE__;                                           \
    field();                                                             \
    std::abort();                                                        \
  }
#define LOCKSTEP_CRASH_FIELD(protocol, ident, text)             \
  [[noreturn]] LOCKSTEP_FRAME void protocol##_field_##ident() { \
    last_frame = 3 * __LINE__;                                  \
    std::abort();                                               \
  }
#include "fuzz/crash_states.def"
#undef LOCKSTEP_CRASH_PROTOCOL
#undef LOCKSTEP_CRASH_OP
#undef LOCKSTEP_CRASH_FIELD

namespace {

enum class Kind { FdLeak, Op, Field };

// One frame. `key` is the op name or the field; "" for the protocol's fallback frame.
struct Row {
  std::string_view protocol;
  Kind kind;
  std::string_view key;
  OpFrame op_frame;
  FieldFrame field_frame;
  const char* name;
};

#define LOCKSTEP_CRASH_PROTOCOL(p)                                      \
  {#p, Kind::FdLeak, "", nullptr, &p##_fd_leak, #p "_fd_leak"},         \
      {#p, Kind::Op, "", &p##_unlisted_op, nullptr, #p "_unlisted_op"}, \
      {#p, Kind::Field, "", nullptr, &p##_field_unlisted, #p "_field_unlisted"},
#define LOCKSTEP_CRASH_OP(p, op) {#p, Kind::Op, #op, &p##_##op, nullptr, #p "_" #op},
#define LOCKSTEP_CRASH_FIELD(p, ident, text) \
  {#p, Kind::Field, text, nullptr, &p##_field_##ident, #p "_field_" #ident},
constexpr Row kRows[] = {
#include "fuzz/crash_states.def"
};
#undef LOCKSTEP_CRASH_PROTOCOL
#undef LOCKSTEP_CRASH_OP
#undef LOCKSTEP_CRASH_FIELD

// The row for `key`, else the protocol's fallback row; nullptr for an unknown protocol.
const Row* find(std::string_view protocol, Kind kind, std::string_view key) {
  const Row* fallback = nullptr;
  for (const Row& row : kRows) {
    if (row.protocol != protocol || row.kind != kind) continue;
    if (row.key == key) return &row;
    if (row.key.empty()) fallback = &row;
  }
  return fallback;
}

// The frames of one crash, innermost first: {fd_leak} or {field, op}.
std::vector<const Row*> frames_for(std::string_view protocol, std::string_view op,
                                   std::string_view field) {
  std::vector<const Row*> frames;
  if (op.empty()) {
    frames = {find(protocol, Kind::FdLeak, "")};
  } else {
    frames = {find(protocol, Kind::Field, field), find(protocol, Kind::Op, op)};
  }
  if (!frames[0]) frames.clear();  // an unknown protocol
  return frames;
}

}  // namespace

}  // namespace lockstep::crash_state

namespace lockstep::fuzz {

std::vector<std::string> crash_frames(std::string_view protocol, std::string_view op,
                                      std::string_view field) {
  std::vector<std::string> names;
  for (const auto* row : crash_state::frames_for(protocol, op, field)) names.push_back(row->name);
  return names;
}

[[noreturn]] LOCKSTEP_FRAME void abort_with_crash_state(std::string_view protocol,
                                                        std::string_view op, std::string_view field,
                                                        const std::string& report) {
  std::fwrite(report.data(), 1, report.size(), stderr);
  std::fflush(stderr);
  const auto frames = crash_state::frames_for(protocol, op, field);
  if (frames.size() == 1) frames[0]->field_frame();
  if (frames.size() == 2) frames[1]->op_frame(frames[0]->field_frame);
  std::abort();
}

}  // namespace lockstep::fuzz
