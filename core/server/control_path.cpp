#include "server/control_path.hpp"

#include <cctype>

namespace tributary {

std::string percent_decode(std::string_view s) {
  auto hex = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : (std::tolower(c) - 'a' + 10); };
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::optional<control_request> parse_control_path(std::string_view path) {
  auto slash = path.rfind('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto verb = path.substr(slash + 1), head = path.substr(0, slash);
  static constexpr std::string_view feeds = "/api/v1/feeds/", sources = "/api/v1/sources/";
  using act = control_request::action;
  if (head.substr(0, feeds.size()) == feeds && head.size() > feeds.size()) {
    auto id = percent_decode(head.substr(feeds.size()));
    if (verb == "run") return control_request{act::run_feed, id};
    if (verb == "pause") return control_request{act::pause_feed, id};
    if (verb == "resume") return control_request{act::resume_feed, id};
  }
  if (head.substr(0, sources.size()) == sources && head.size() > sources.size() && verb == "reset")
    return control_request{act::reset_source, percent_decode(head.substr(sources.size()))};
  return std::nullopt;
}

}  // namespace tributary
