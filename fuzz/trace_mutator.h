// The trace-level mutator both fuzz targets share (libFuzzer's LLVMFuzzerCustomMutator and
// LLVMFuzzerCustomCrossOver). An input is its options byte and a list of ops, each op the span
// of bytes the protocol's decoder read for it (decode_input's offsets). A mutation edits that
// list — inserts a fresh op, deletes, duplicates or swaps ops, redraws one op's arguments or
// one argument byte, changes the options byte — or, one time in five, falls back to libFuzzer's
// byte mutation. The result is joined back into bytes and, being bytes, always decodes.
//
// Ops are edited as byte spans rather than as decoded ops and re-encoded because the structured
// form (core/*/codec.h) names handles relative to what is live: after a deletion or a swap the
// same bytes resolve to the live objects that remain, where a re-encoded trace would name dead
// or unborn handles. New ops are drawn by decoding random bytes at the insertion point, so they
// are in their domains for the state there.
//
// Binding: one codec view per protocol (its decode_input as an offsets function and the first
// options byte of its structured form); LOCKSTEP_TRACE_MUTATOR(mshv) in a fuzz target defines
// it and the two libFuzzer entry points.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace lockstep::fuzz {

struct CodecView {
  // Where each op starts in the input, then where the last one ends (decode_input's offsets).
  std::vector<size_t> (*offsets)(std::span<const uint8_t> input);
  uint8_t structured_options;  // options bytes from here up select the structured form
};

// One mutation of data[0, size) in place (capacity max_size); returns the new size.
size_t mutate_trace(const CodecView& codec, uint8_t* data, size_t size, size_t max_size,
                    unsigned seed);
// The options byte and first ops of one input, the remaining ops of the other.
size_t cross_over_traces(const CodecView& codec, const uint8_t* a, size_t a_size, const uint8_t* b,
                         size_t b_size, uint8_t* out, size_t max_out_size, unsigned seed);

}  // namespace lockstep::fuzz

// The codec view of `protocol`: a namespace under lockstep:: with decode_input, kMaxOps and
// kStructuredOptions.
#define LOCKSTEP_CODEC_VIEW(protocol)                                             \
  (lockstep::fuzz::CodecView{[](std::span<const uint8_t> input) {                 \
                               std::vector<size_t> offsets;                       \
                               lockstep::protocol::decode_input(                  \
                                   input, lockstep::protocol::kMaxOps, &offsets); \
                               return offsets;                                    \
                             },                                                   \
                             lockstep::protocol::kStructuredOptions})

// libFuzzer's two entry points, bound to `protocol`.
#define LOCKSTEP_TRACE_MUTATOR(protocol)                                                          \
  extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size,          \
                                            unsigned seed) {                                      \
    return lockstep::fuzz::mutate_trace(LOCKSTEP_CODEC_VIEW(protocol), data, size, max_size,      \
                                        seed);                                                    \
  }                                                                                               \
  extern "C" size_t LLVMFuzzerCustomCrossOver(const uint8_t* a, size_t a_size, const uint8_t* b,  \
                                              size_t b_size, uint8_t* out, size_t max_out_size,   \
                                              unsigned seed) {                                    \
    return lockstep::fuzz::cross_over_traces(LOCKSTEP_CODEC_VIEW(protocol), a, a_size, b, b_size, \
                                             out, max_out_size, seed);                            \
  }
