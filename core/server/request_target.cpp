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
  if (auto it = params.find("token"); it != params.end() && (*it).has_value) t.token = (*it).value;
  return t;
}

}  // namespace tributary
