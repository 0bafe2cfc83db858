#include "core/table.h"

#include <algorithm>
#include <stdexcept>

namespace lockstep {

size_t display_width(std::string_view s) {
  // Every byte but a UTF-8 continuation byte (10xxxxxx) starts a code point.
  return std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; });
}

Table::Table(std::initializer_list<std::string> headers) {
  for (const auto& h : headers) columns_.push_back({h, Align::Left});
}

Table& Table::row(std::vector<std::string> cells) {
  if (cells.size() > columns_.size())
    throw std::invalid_argument("table row of " + std::to_string(cells.size()) + " cells for " +
                                std::to_string(columns_.size()) + " columns");
  cells.resize(columns_.size());
  rows_.push_back(std::move(cells));
  return *this;
}

std::string Table::text(size_t gap, std::string_view indent) const {
  std::vector<size_t> width(columns_.size(), 0);
  const bool header = std::any_of(columns_.begin(), columns_.end(),
                                  [](const Column& c) { return !c.header.empty(); });
  auto widen = [&](size_t i, const std::string& cell) {
    width[i] = std::max(width[i], display_width(cell));
  };
  for (size_t i = 0; i < columns_.size(); ++i) {
    if (header) widen(i, columns_[i].header);
    for (const auto& r : rows_) widen(i, r[i]);
  }
  std::string out;
  auto line = [&](auto cell_of) {
    std::string l(indent);
    for (size_t i = 0; i < columns_.size(); ++i) {
      const std::string& cell = cell_of(i);
      const std::string pad(width[i] - display_width(cell), ' ');
      if (i) l += std::string(gap, ' ');
      l += columns_[i].align == Align::Right ? pad + cell : cell + pad;
    }
    l.erase(l.find_last_not_of(' ') + 1);
    out += l + "\n";
  };
  if (header) line([&](size_t i) -> const std::string& { return columns_[i].header; });
  for (const auto& r : rows_) line([&](size_t i) -> const std::string& { return r[i]; });
  return out;
}

std::string Table::markdown() const {
  std::string out;
  auto line = [&](auto cell_of) {
    out += "|";
    for (size_t i = 0; i < columns_.size(); ++i) {
      const std::string& cell = cell_of(i);
      out += cell.empty() ? " |" : " " + cell + " |";
    }
    out += "\n";
  };
  line([&](size_t i) -> const std::string& { return columns_[i].header; });
  out += "|";
  for (size_t i = 0; i < columns_.size(); ++i) out += "---|";
  out += "\n";
  for (const auto& r : rows_) line([&](size_t i) -> const std::string& { return r[i]; });
  return out;
}

}  // namespace lockstep
