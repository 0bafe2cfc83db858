// The vhost encoding is the model: on every (state, op) pair of the corpus programs under
// corpus/programs/vhost_postcopy/ and of random traces from vhost::decode_input, the Z3
// transition evaluated on the abstract projection of the state and the op's abstract action
// equals the projection of Model::step's result (state, reply shape, closed), profile by
// profile (shipped + mutants). Ops the abstraction cannot represent (partial or several
// messages in one write, lying sizes, ring fds at index >= 2, a state holding a partial
// message) are counted and reported, and must stay a small fraction.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

#include "core/vhost/codec.h"
#include "model/vhost/model.h"
#include "proofs/vhost/prove.h"

namespace lockstep::vhost::proofs {
namespace {

namespace fs = std::filesystem;

struct Counts {
  size_t ops = 0, checked = 0, unrepresentable = 0;
};

std::vector<Trace> corpus_traces() {
  std::vector<Trace> out;
  fs::path dir = fs::path(LOCKSTEP_SOURCE_DIR) / "corpus/programs/vhost_postcopy";
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".txt") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::ifstream in(f);
    out.push_back(parse_text(std::string{std::istreambuf_iterator<char>(in), {}}));
  }
  return out;
}

std::vector<Trace> random_traces(size_t count) {
  std::mt19937 rng(20181023);
  std::vector<Trace> out;
  for (size_t i = 0; i < count; ++i) {
    std::vector<uint8_t> bytes(64 + rng() % 448);
    for (auto& b : bytes) b = static_cast<uint8_t>(rng());
    bytes[0] |= (i % 2) ? 4 : 0;  // half of them start with the negotiation preamble
    out.push_back(decode_input(bytes));
  }
  return out;
}

void run_trace(const Profile& p, const Trace& t, Evaluator& ev, Counts& c) {
  Model model(p);
  for (size_t i = 0; i < t.ops.size(); ++i) {
    const Op& op = t.ops[i];
    ++c.ops;
    auto pre = Encoding::project(model.state());
    auto act = ev.encoding().abstract_op(model.state(), op);
    Outcome out = model.step(op);
    auto post = Encoding::project(model.state());
    if (!pre || !act || !post || out.replies.size() > 1) {
      ++c.unrepresentable;
      if (std::getenv("VHOST_PROOFS_VERBOSE"))
        std::printf("  unrepresentable [%s] op %zu %s: %s\n", p.name.c_str(), i,
                    Protocol::op_name(op).c_str(),
                    !pre    ? "state"
                    : !act  ? "op"
                    : !post ? "post-state"
                            : "replies");
      continue;
    }
    ++c.checked;
    auto st = ev.step(*pre, *act);
    auto want = *post;
    auto got = st.next;
    // Model keeps one leak counter; the encoding splits it (uffds / other fds).
    EXPECT_EQ(got[kLkFdPos] + got[kLkUffdPos], want[kLkFdPos])
        << p.name << " op " << i << " " << Protocol::op_name(op);
    for (size_t g : ghost_positions()) got[g] = want[g] = 0;
    auto str = [](const std::vector<uint64_t>& v) {
      std::string o;
      for (auto x : v) o += std::to_string(x) + " ";
      return o;
    };
    EXPECT_EQ(got, want) << p.name << " op " << i << " " << Protocol::op_name(op) << "\npre "
                         << str(*pre) << "\nact " << str(*act) << "\n"
                         << print_text(t);
    EXPECT_EQ(st.reply, Encoding::reply_shape(out))
        << p.name << " op " << i << " " << Protocol::op_name(op);
    EXPECT_EQ(out.closed, got[0] == 0);
    if (::testing::Test::HasFailure()) return;
  }
}

class VhostEncoding : public ::testing::TestWithParam<const Profile*> {};

TEST_P(VhostEncoding, IsTheModelOnCorpusAndRandomTraces) {
  const Profile& p = *GetParam();
  Evaluator ev(p);
  Counts corpus, random;
  for (const Trace& t : corpus_traces()) {
    run_trace(p, t, ev, corpus);
    if (HasFailure()) return;
  }
  for (const Trace& t : random_traces(400)) {
    run_trace(p, t, ev, random);
    if (HasFailure()) return;
  }
  std::printf(
      "[%s] corpus: %zu ops, %zu checked, %zu unrepresentable; random: %zu ops, %zu "
      "checked, %zu unrepresentable\n",
      p.name.c_str(), corpus.ops, corpus.checked, corpus.unrepresentable, random.ops,
      random.checked, random.unrepresentable);
  EXPECT_GT(corpus.checked, 100u);
  EXPECT_LE(corpus.unrepresentable * 100, corpus.ops * 15);  // <= 15 %
  EXPECT_LE(random.unrepresentable * 4, random.ops);         // <= 25 %
}

std::vector<const Profile*> all_profiles() {
  auto v = shipped_profiles();
  for (auto* p : mutant_profiles()) v.push_back(p);
  return v;
}

INSTANTIATE_TEST_SUITE_P(Profiles, VhostEncoding, ::testing::ValuesIn(all_profiles()),
                         [](const auto& info) {
                           std::string n = info.param->name;
                           std::replace_if(
                               n.begin(), n.end(), [](char ch) { return !isalnum(ch); }, '_');
                           return n;
                         });

}  // namespace
}  // namespace lockstep::vhost::proofs
