// The structured fuzz inputs and the trace mutator: random bytes in the structured form decode
// to traces whose arguments name live objects and valid values (and in the legacy form they do
// not, so the checks can fail); decode_input's offsets are prefix-closed, which the mutator
// relies on; the mutator grows traces from nothing, keeps within max_size and crosses over at
// op boundaries.
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "core/mshv/codec.h"
#include "core/mshv/uapi.h"
#include "core/overloaded.h"
#include "core/vhost/codec.h"
#include "fuzz/trace_mutator.h"

namespace lockstep::fuzz {
namespace {

std::vector<uint8_t> random_input(std::mt19937& rng, uint8_t options) {
  std::vector<uint8_t> b(1 + rng() % 200);
  for (auto& x : b) x = static_cast<uint8_t>(rng());
  b[0] = options;
  return b;
}

struct MshvShape {
  int attr_ops = 0, live_device = 0, vfio_file_attr = 0, ops = 0, creates_first = 0, traces = 0;
};

// Walks a decoded MSHV trace, counting attr calls on a device that is created and not closed,
// with group VFIO_FILE and attr ADD/DEL.
MshvShape mshv_shape(int inputs, bool structured) {
  std::mt19937 rng(5);
  MshvShape s;
  for (int i = 0; i < inputs; ++i) {
    const uint8_t options = structured ? mshv::kStructuredOptions + rng() % 200 : rng() % 2;
    const mshv::Trace t = mshv::decode_input(random_input(rng, options));
    std::set<Handle> live;
    mshv::HandleCounts counts;
    ++s.traces;
    s.creates_first += !t.ops.empty() && (std::holds_alternative<mshv::OpenPartition>(t.ops[0]) ||
                                          std::holds_alternative<mshv::OpenFile>(t.ops[0]));
    for (const mshv::Op& op : t.ops) {
      ++s.ops;
      if (const auto* a = std::get_if<mshv::SetAttr>(&op)) {
        ++s.attr_ops;
        s.live_device += live.count(a->dev) > 0;
        s.vfio_file_attr +=
            a->group == mshv::uapi::kDevVfioFile &&
            (a->attr == mshv::uapi::kDevVfioFileAdd || a->attr == mshv::uapi::kDevVfioFileDel);
      }
      if (auto h = counts.create(op)) live.insert(*h);
      if (const auto* c = std::get_if<mshv::Close>(&op)) live.erase(c->h);
    }
  }
  return s;
}

TEST(StructuredInput, MshvArgumentsNameLiveObjectsAndValidValues) {
  const MshvShape s = mshv_shape(2000, true);
  ASSERT_GT(s.attr_ops, 1000);
  EXPECT_GT(s.live_device * 10, s.attr_ops * 8) << s.live_device << "/" << s.attr_ops;
  // group VFIO_FILE 6 in 8, attr ADD or DEL 6 in 8 (each 7 in 8 not escaped): about 0.45
  EXPECT_GT(s.vfio_file_attr * 10, s.attr_ops * 4) << s.vfio_file_attr << "/" << s.attr_ops;
  EXPECT_GT(s.creates_first * 10, s.traces * 7);  // the first op opens a partition or a file
  // The legacy form, byte for byte the fuzzer's random choices, misses all three.
  const MshvShape legacy = mshv_shape(2000, false);
  EXPECT_LT(legacy.live_device * 10, legacy.attr_ops * 5);
  EXPECT_LT(legacy.vfio_file_attr * 100, legacy.attr_ops);
  EXPECT_LT(legacy.creates_first * 10, legacy.traces * 4);
}

TEST(StructuredInput, VhostStartsNegotiatedMostlyAndSendsPostcopyRequests) {
  std::mt19937 rng(6);
  int traces = 0, negotiated = 0, sends = 0, postcopy = 0;
  const std::vector<vhost::Op> pre = vhost::preamble();
  for (int i = 0; i < 2000; ++i) {
    const auto options =
        static_cast<uint8_t>(vhost::kStructuredOptions + rng() % (256 - vhost::kStructuredOptions));
    const vhost::Trace t = vhost::decode_input(random_input(rng, options));
    ++traces;
    negotiated += t.ops.size() >= pre.size() && std::equal(pre.begin(), pre.end(), t.ops.begin());
    for (const vhost::Op& op : t.ops)
      if (const auto* s = std::get_if<vhost::Send>(&op)) {
        ++sends;
        postcopy += s->request == vhost::uapi::kPostcopyAdvise ||
                    s->request == vhost::uapi::kPostcopyListen ||
                    s->request == vhost::uapi::kPostcopyEnd ||
                    s->request == vhost::uapi::kSetMemTable;
      }
  }
  EXPECT_GT(negotiated * 100, traces * 65);  // often, not always: 3 in 4
  EXPECT_LT(negotiated * 100, traces * 85);
  EXPECT_GT(postcopy * 10, sends * 4) << postcopy << "/" << sends;
}

// decode_input(data[0, offsets[k])) holds exactly the first k ops: ops are byte spans.
template <class Decode>
void expect_prefix_closed(Decode decode, uint8_t structured) {
  std::mt19937 rng(7);
  for (int i = 0; i < 500; ++i) {
    const auto bytes = random_input(rng, static_cast<uint8_t>(i % 2 ? structured : 0));
    std::vector<size_t> at;
    const auto whole = decode(bytes, &at);
    ASSERT_GE(at.size(), 1u);
    for (size_t k = 0; k + 1 < at.size(); ++k) {
      ASSERT_LT(at[k], at[k + 1]);
      const std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + at[k + 1]);
      const auto part = decode(prefix, nullptr);
      ASSERT_EQ(part.ops.size(), whole.ops.size() - (at.size() - 2 - k));
      ASSERT_TRUE(std::equal(part.ops.begin(), part.ops.end(), whole.ops.begin()));
    }
  }
}

TEST(StructuredInput, OffsetsArePrefixClosed) {
  using Offsets = std::vector<size_t>;
  expect_prefix_closed(
      [](std::span<const uint8_t> b, Offsets* at) { return mshv::decode_input(b, 64, at); },
      mshv::kStructuredOptions);
  expect_prefix_closed(
      [](std::span<const uint8_t> b, Offsets* at) { return vhost::decode_input(b, 64, at); },
      vhost::kStructuredOptions);
}

template <class Decode>
void expect_mutator_grows_traces(const CodecView& codec, Decode decode) {
  std::vector<uint8_t> buf(512);
  size_t size = 0;
  size_t most_ops = 0;
  for (unsigned seed = 1; seed <= 300; ++seed) {
    size = mutate_trace(codec, buf.data(), size, buf.size(), seed);
    ASSERT_LE(size, buf.size());
    ASSERT_GE(size, 1u);
    if (seed == 1) {
      EXPECT_GE(buf[0], codec.structured_options) << "an empty input starts structured";
    }
    most_ops = std::max(most_ops, decode(std::span<const uint8_t>(buf.data(), size)).ops.size());
  }
  EXPECT_GE(most_ops, 8u);
  std::vector<uint8_t> tiny(4);
  EXPECT_LE(mutate_trace(codec, tiny.data(), 0, tiny.size(), 9), tiny.size());
}

TEST(TraceMutator, GrowsStructuredTracesFromNothing) {
  expect_mutator_grows_traces(LOCKSTEP_CODEC_VIEW(mshv),
                              [](std::span<const uint8_t> b) { return mshv::decode_input(b); });
  expect_mutator_grows_traces(LOCKSTEP_CODEC_VIEW(vhost),
                              [](std::span<const uint8_t> b) { return vhost::decode_input(b); });
}

TEST(TraceMutator, CrossOverJoinsAPrefixAndASuffixOfOps) {
  const CodecView codec = LOCKSTEP_CODEC_VIEW(mshv);
  std::mt19937 rng(8);
  for (unsigned seed = 0; seed < 200; ++seed) {
    const auto a = random_input(rng, 0x10), b = random_input(rng, 0x21);
    std::vector<uint8_t> out(a.size() + b.size());
    const size_t n = cross_over_traces(codec, a.data(), a.size(), b.data(), b.size(), out.data(),
                                       out.size(), seed);
    ASSERT_GE(n, 1u);
    EXPECT_EQ(out[0], 0x10);
    const std::vector<size_t> at_a = codec.offsets(a), at_b = codec.offsets(b);
    // out = a[0, at_a[i]) + b[at_b[j], end) for some op boundaries i, j
    bool found = false;
    for (size_t i : at_a)
      for (size_t j : at_b)
        found |= n == i + at_b.back() - j && std::equal(a.begin(), a.begin() + i, out.begin()) &&
                 std::equal(b.begin() + j, b.begin() + at_b.back(), out.begin() + i);
    EXPECT_TRUE(found) << seed;
  }
}

}  // namespace
}  // namespace lockstep::fuzz
