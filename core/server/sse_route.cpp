#include "server/sse_route.hpp"

#include "record/topic.hpp"
#include "server/io_shard.hpp"

namespace tributary {

namespace {

constexpr size_t kMaxPatterns = 256;  // as for a WebSocket session

std::variant<std::vector<std::string>, sse_refusal> read_patterns(std::string_view list) {
  std::vector<std::string> out;
  while (!list.empty()) {
    auto comma = list.find(',');
    auto p = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    if (p.empty()) continue;
    if (auto why = check_pattern(p); !why.empty())
      return sse_refusal{400, "bad_request", why + ": '" + std::string(p.substr(0, 64)) + "'"};
    if (std::find(out.begin(), out.end(), p) == out.end()) out.emplace_back(p);
  }
  if (out.empty()) return sse_refusal{400, "bad_request", "name the topic patterns: /sse?topics=price.*,view.*"};
  if (out.size() > kMaxPatterns) return sse_refusal{400, "too_many_subscriptions", "at most 256 patterns per stream"};
  return out;
}

}  // namespace

std::variant<sse_start, sse_refusal> check_sse_request(const server_settings& cfg, const sse_request& req) {
  auto patterns = read_patterns(req.topics);
  if (auto* r = std::get_if<sse_refusal>(&patterns)) return *r;
  sse_start s{{&cfg.policy, {}, {}}, std::move(std::get<std::vector<std::string>>(patterns)), {}, 0};
  if (cfg.verifier && !req.token.empty()) {
    auto v = cfg.verifier->verify(req.token, req.now_ms);
    if (!v.who) return sse_refusal{401, "unauthorized", v.error};
    s.who.user = v.who->segment;
    s.who.channels = std::move(v.who->channels);
    s.expires_ms = v.who->expires_ms;
  }
  for (auto& p : s.patterns)
    if (!may_subscribe(s.who, p))
      return sse_refusal{403, "forbidden", "not allowed to subscribe to '" + p + "'" + (s.who.user.empty() ? " without a token" : "")};
  // A cursor this server did not make (or a mangled one) resumes nothing: snapshots.
  if (!req.last_event_id.empty())
    if (auto c = sse_cursor::parse(req.last_event_id)) s.resume = std::move(*c);
  return s;
}

}  // namespace tributary
