#include "server/request_target.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/src.hpp>  // Boost.URL compiled into this one translation unit

namespace tributary {

std::optional<request_target> parse_request_target(std::string_view target) {
  auto u = boost::urls::parse_origin_form(target);
  if (!u) return std::nullopt;
  request_target t;
  t.path = u->path();
  auto params = u->params();
  auto read = [&](const char* name, std::string& out) {
    if (auto it = params.find(name); it != params.end() && (*it).has_value) out = (*it).value;
  };
  read("token", t.token);
  read("topics", t.topics);
  read("last_event_id", t.last_event_id);
  for (auto [name, out] : {std::pair{"since", &t.since}, std::pair{"limit", &t.limit}})
    if (auto it = params.find(name); it != params.end()) *out = (*it).has_value ? std::string((*it).value) : std::string();
  return t;
}

}  // namespace tributary
