#include "server/control_path.hpp"

namespace tributary {

std::optional<control_request> parse_control_path(std::string_view path) {
  auto slash = path.rfind('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto verb = path.substr(slash + 1), head = path.substr(0, slash);
  static constexpr std::string_view feeds = "/api/v1/feeds/", sources = "/api/v1/sources/";
  using act = control_request::action;
  if (head.substr(0, feeds.size()) == feeds && head.size() > feeds.size()) {
    auto id = std::string(head.substr(feeds.size()));
    if (verb == "run") return control_request{act::run_feed, id};
    if (verb == "pause") return control_request{act::pause_feed, id};
    if (verb == "resume") return control_request{act::resume_feed, id};
  }
  if (head.substr(0, sources.size()) == sources && head.size() > sources.size() && verb == "reset")
    return control_request{act::reset_source, std::string(head.substr(sources.size()))};
  return std::nullopt;
}

}  // namespace tributary
