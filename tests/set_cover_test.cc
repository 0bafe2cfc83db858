// The selection behind `lockstep corpus min` (tools/set_cover.h): greedy set cover, largest new
// contribution first, ties to the smaller input; and the comparison that catches a selection
// missing an input.
#include "tools/set_cover.h"

#include <gtest/gtest.h>

namespace lockstep::tools {
namespace {

TEST(GreedyCover, LargestContributionFirstThenSmallerOnTies) {
  const std::vector<CoverInput> inputs = {
      {10, {1, 2}},        // 0: overtaken by 3 (same elements, smaller)
      {50, {1, 2, 3, 4}},  // 1: the largest contribution: first
      {5, {4}},            // 2: adds nothing after 1
      {4, {1, 2}},         // 3: adds nothing after 1
      {7, {5, 6}},         // 4: ties with 5 on two new elements, larger
      {6, {5, 6, 6}},      // 5: the smaller of the tie; a repeated element counts once
  };
  EXPECT_EQ(greedy_cover(inputs), (std::vector<size_t>{1, 5}));
}

TEST(GreedyCover, KeepsEverythingTheCorpusCovers) {
  std::vector<CoverInput> inputs;
  for (uint32_t i = 0; i < 40; ++i) inputs.push_back({i % 7 + 1, {i % 13, (i * 5) % 17 + 13}});
  std::vector<size_t> all(inputs.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  const std::vector<size_t> kept = greedy_cover(inputs);
  EXPECT_LT(kept.size(), inputs.size());
  EXPECT_EQ(covered(inputs, kept), covered(inputs, all));
}

// The negative: a selection with one chosen input dropped covers less, and the comparison
// corpus min makes (covered(kept) == covered(all)) says so.
TEST(GreedyCover, DroppingAChosenInputIsCaught) {
  const std::vector<CoverInput> inputs = {{1, {0, 1}}, {1, {1, 2}}, {1, {2}}, {1, {3}}};
  std::vector<size_t> kept = greedy_cover(inputs);
  ASSERT_EQ(kept.size(), 3u);
  kept.pop_back();
  EXPECT_NE(covered(inputs, kept), covered(inputs, {0, 1, 2, 3}));
}

TEST(GreedyCover, NothingToCoverKeepsNothing) {
  EXPECT_TRUE(greedy_cover({}).empty());
  EXPECT_TRUE(greedy_cover({{3, {}}, {1, {}}}).empty());
}

}  // namespace
}  // namespace lockstep::tools
