// One writer for every table the project prints or generates: aligned text for terminals
// (`lockstep run`, `peer`, `prove`, `summary`, the listings) and markdown for the generated
// documents (peer reports, docs/mutants.md, docs/vhost-backend-rules.md). Cells are UTF-8; a
// cell's width is its count of code points, which is right for the marks the tables use
// (✓ ✗, U+2713 U+2717, one column each in every terminal font).
#pragma once
#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lockstep {

class Table {
 public:
  enum class Align { Left, Right };
  struct Column {
    std::string header;
    Align align = Align::Left;
  };

  explicit Table(std::vector<Column> columns) : columns_(std::move(columns)) {}
  // Column headers only, every column left-aligned.
  Table(std::initializer_list<std::string> headers);

  // One row: as many cells as columns (fewer are padded with empty cells, more are an error
  // of the caller: std::invalid_argument).
  Table& row(std::vector<std::string> cells);
  size_t rows() const { return rows_.size(); }

  // Aligned columns separated by `gap` spaces, each line starting with `indent`; the header line
  // first unless every header is empty; no trailing spaces.
  std::string text(size_t gap = 2, std::string_view indent = "") const;
  // `| a | b |` lines under `|---|---|`; an empty cell is written `| |`.
  std::string markdown() const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

// The number of terminal columns `s` takes: its count of UTF-8 code points.
size_t display_width(std::string_view s);

}  // namespace lockstep
