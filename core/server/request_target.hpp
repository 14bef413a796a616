#pragma once
// An HTTP request target (origin form: path and query), parsed by Boost.URL. No I/O here.
#include <optional>
#include <string>
#include <string_view>

namespace tributary {

struct request_target {
  std::string path;   // percent-decoded
  std::string token;  // the decoded `token` query parameter; empty when absent
  std::string topics;         // `topics` (SSE: comma-separated patterns)
  std::string last_event_id;  // `last_event_id` (SSE: instead of the Last-Event-ID header)
  std::optional<std::string> since, limit;  // GET /api/v1/history: as given
};

// nullopt when `target` is not a valid origin-form target ("/path?query").
std::optional<request_target> parse_request_target(std::string_view target);

}  // namespace tributary
