// core/table.h: the one table writer. Aligned text pads by code points (✓ and ✗ take one column),
// right-aligns where asked and leaves no trailing spaces; markdown writes `| a | b |` under
// `|---|---|` and an empty cell as `| |`; a row wider than the table is refused.
#include "core/table.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace lockstep {
namespace {

TEST(Table, TextAlignsByCodePoints) {
  Table t({{"invariant"}, {"spec"}, {"n", Table::Align::Right}});
  t.row({"well_formed", "✓", "7"}).row({"reply_flags", "✗exp", "12"});
  EXPECT_EQ(t.text(1, "  "),
            "  invariant   spec  n\n"
            "  well_formed ✓     7\n"
            "  reply_flags ✗exp 12\n");
  EXPECT_EQ(display_width("✗exp"), 4u);
}

TEST(Table, NoHeaderLineWhenEveryHeaderIsEmptyAndNoTrailingSpaces) {
  Table t{"", ""};
  t.row({"a-long-name", "x"}).row({"b", ""});
  EXPECT_EQ(t.text(), "a-long-name  x\nb\n");
}

TEST(Table, MarkdownKeepsTheDocumentsFormat) {
  Table t{"", ""};
  t.row({"kernel", "`6.1`"});
  EXPECT_EQ(t.markdown(), "| | |\n|---|---|\n| kernel | `6.1` |\n");
  Table u{"a", "b"};
  u.row({"1"});  // padded with an empty cell
  EXPECT_EQ(u.markdown(), "| a | b |\n|---|---|\n| 1 | |\n");
}

TEST(Table, ARowWiderThanTheTableIsRefused) {
  Table t{"a"};
  EXPECT_THROW(t.row({"1", "2"}), std::invalid_argument);
  EXPECT_EQ(t.rows(), 0u);
}

}  // namespace
}  // namespace lockstep
