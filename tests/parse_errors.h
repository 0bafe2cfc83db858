// Shared by both protocols' codec tests: a malformed program must be refused with a ParseError
// whose message starts with the expected "LINE:COL: what is wrong".
#pragma once
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "core/program_text.h"

namespace lockstep {

using ParseErrorCases = std::vector<std::pair<std::string, std::string>>;  // body, message prefix

template <class Parse>
void expect_parse_errors(Parse parse, const std::string& head, const ParseErrorCases& cases) {
  for (const auto& [body, expected] : cases) {
    try {
      parse(head + body);
      ADD_FAILURE() << "accepted: " << body;
    } catch (const ParseError& e) {
      EXPECT_EQ(std::string(e.what()).substr(0, expected.size()), expected) << body;
    }
  }
}

}  // namespace lockstep
