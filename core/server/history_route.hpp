#pragma once
// GET /api/v1/history/{topic}?since=SEQ&limit=N: a topic's recent records from the history that
// recovery uses, oldest first, as {"topic", "epoch", "records": [...]}. No Beast here: the
// session sends what this returns.
#include <string>
#include <string_view>

namespace tributary {

struct grant;
struct request_target;
class fanout_hub;
class record_cache;

struct history_answer {
  int status = 200;    // 200, 400 (bad since/limit), 403, 404 (unknown topic)
  std::string code;    // error code when not 200
  std::string body;    // the JSON answer, or the error message
};

inline constexpr size_t history_limit_max = 1000;  // also the default

history_answer history_of(std::string_view topic, const request_target& t, const grant& g, const fanout_hub& hub,
                          const record_cache& cache);

}  // namespace tributary
