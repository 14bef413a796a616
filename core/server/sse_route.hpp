#pragma once
// Internal to server/: GET /sse checked before it becomes a stream (docs/protocol.md,
// Server-Sent Events): its patterns, the caller's token, and where it resumes. No I/O.
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "auth/access.hpp"
#include "server/sse_cursor.hpp"

namespace tributary {

struct server_settings;

// A stream that may start.
struct sse_start {
  grant who;
  std::vector<std::string> patterns;
  sse_cursor resume;        // what Last-Event-ID says the client has (empty: nothing)
  int64_t expires_ms = 0;   // the token's exp; 0: none
};

// Why not: an HTTP status and the error's code and message.
struct sse_refusal {
  int status;
  std::string code, message;
};

struct sse_request {
  std::string_view topics;         // ?topics=a,b
  std::string_view token;          // ?token= or Authorization: Bearer
  std::string_view last_event_id;  // Last-Event-ID, or ?last_event_id=
  int64_t now_ms = 0;              // wall clock, for the token
};

std::variant<sse_start, sse_refusal> check_sse_request(const server_settings& cfg, const sse_request& req);

}  // namespace tributary
