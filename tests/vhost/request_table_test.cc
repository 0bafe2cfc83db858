// The request table (model/vhost/requests.def): the one place a handled request is described.
// These tests keep the generated documentation, the rule citations and the model's dispatch in
// step with it.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include "core/program_files.h"
#include "model/vhost/model.h"
#include "model/vhost/requests.h"

namespace lockstep::vhost {
namespace {

using namespace uapi;

const std::filesystem::path kRulesDoc =
    std::filesystem::path(LOCKSTEP_SOURCE_DIR) / "docs/vhost-backend-rules.md";
constexpr std::string_view kBegin = "<!-- generated: request table -->\n";
constexpr std::string_view kEnd = "<!-- end: request table -->\n";

// LOCKSTEP_WRITE_DOCS=1 rewrites the block instead of checking it.
TEST(VhostRequestTable, RulesDocumentEmbedsTheGeneratedTable) {
  std::string doc = read_file(kRulesDoc);
  const size_t begin = doc.find(kBegin), end = doc.find(kEnd);
  ASSERT_NE(begin, std::string::npos) << kRulesDoc << " lacks " << kBegin;
  ASSERT_NE(end, std::string::npos) << kRulesDoc << " lacks " << kEnd;
  ASSERT_LT(begin, end);
  const size_t body = begin + kBegin.size();
  const std::string generated = request_table_markdown();
  if (std::getenv("LOCKSTEP_WRITE_DOCS")) {
    doc.replace(body, end - body, generated);
    std::ofstream(kRulesDoc, std::ios::binary) << doc;
    return;
  }
  EXPECT_EQ(doc.substr(body, end - body), generated)
      << kRulesDoc << " is stale: rerun with LOCKSTEP_WRITE_DOCS=1";
}

TEST(VhostRequestTable, EveryRowCitesARuleTheDocumentDefines) {
  const std::string doc = read_file(kRulesDoc);
  for (const RequestRule& r : kRequestRules)
    EXPECT_NE(doc.find("| " + std::string(r.rule) + " |"), std::string::npos)
        << request_name(r.request) << " cites " << r.rule;
}

TEST(VhostRequestTable, OneRowPerRequest) {
  std::set<uint32_t> seen;
  for (const RequestRule& r : kRequestRules) {
    EXPECT_TRUE(seen.insert(r.request).second) << request_name(r.request);
    EXPECT_EQ(find_request(r.request), &r);
  }
  EXPECT_EQ(seen.size(), std::size(kRequestRules));
}

// W7/E2: exactly the rows are handled; every other id is refused before any handler runs
// (with NEED_REPLY: u64 1 and the connection stays).
TEST(VhostRequestTable, RowsAreExactlyTheHandledRequests) {
  for (uint32_t id = 0; id <= kMaxRequest + 4; ++id) {
    const bool row = find_request(id) != nullptr;
    EXPECT_EQ(expected_payload_size(id, {}, true).has_value(), row) << id;
    if (row) continue;
    Model model(*find_profile("spec"));
    const Outcome out = model.step(send(id, kVersion | kNeedReply));
    ASSERT_EQ(out.replies.size(), 1u) << id;
    EXPECT_EQ(out.replies[0].payload, u64_payload(1)) << id;
    EXPECT_FALSE(out.closed) << id;
  }
}

// W6: the fd column decides the count the model demands.
TEST(VhostRequestTable, FdColumnIsTheCountTheModelDemands) {
  for (const RequestRule& r : kRequestRules) {
    const std::vector<uint8_t> payload(64, 0);
    const size_t fds = expected_fd_count(r.request, payload);
    switch (r.fds) {
      case FdRule::None:
      case FdRule::OnePerRegion:  // nregions = 0 in this payload
        EXPECT_EQ(fds, 0u) << request_name(r.request);
        break;
      case FdRule::One:
      case FdRule::OneUnlessNofd:  // NOFD clear in this payload
        EXPECT_EQ(fds, 1u) << request_name(r.request);
        break;
    }
  }
}

}  // namespace
}  // namespace lockstep::vhost
