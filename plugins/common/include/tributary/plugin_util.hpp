// Helpers shared by the in-tree plugins (header-only; plugins link neither Boost nor the host).
#pragma once

#include <tributary/sdk.hpp>

#include <nlohmann/json.hpp>

#include <ctime>
#include <optional>
#include <string>

namespace tributary::plugin_util {

namespace sdk = tributary::sdk;
using json = nlohmann::json;

// A JSON number or decimal string; null, absent or unparsable -> nullopt (never 0).
inline std::optional<double> number(const json& v) {
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) return sdk::parse_decimal(v.get_ref<const std::string&>());
  return std::nullopt;
}
inline std::optional<double> number_at(const json& obj, const char* key) {
  if (!obj.is_object()) return std::nullopt;
  auto it = obj.find(key);
  return it == obj.end() ? std::nullopt : number(*it);
}
inline std::string string_at(const json& obj, const char* key) {
  if (!obj.is_object()) return {};
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// "2026-03-10T14:30:15.123Z" (or with +00:00) -> ms since the epoch, UTC.
inline std::optional<int64_t> iso8601_ms(const std::string& s) {
  std::tm tm{};
  int ms = 0;
  char frac[16] = {0};
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                  &tm.tm_sec) != 6)
    return std::nullopt;
  if (auto dot = s.find('.', 19); dot == 19 && std::sscanf(s.c_str() + 20, "%15[0-9]", frac) == 1) {
    std::string f(frac);
    f.resize(3, '0');
    ms = std::stoi(f);
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm)) * 1000 + ms;
}

// ms since the epoch from seconds (as providers send them), or nullopt for 0/absent.
inline std::optional<int64_t> seconds_ms(const json& v) {
  auto n = number(v);
  if (!n || *n <= 0) return std::nullopt;
  return static_cast<int64_t>(*n * 1000);
}

// What every provider's answer may be before its own error format is read: a 429 (JSON or a
// CDN's HTML page) is a rate limit with Retry-After, 5xx and HTML pages are transient, 401 is auth.
// Messages carry no provider name: the host prefixes every error with the instance name.
inline std::optional<sdk::plugin_error> http_failure(const sdk::http_response& r, int64_t default_pause_ms = 60000) {
  std::string what = "HTTP " + std::to_string(r.status);
  if (r.status == 429) {
    int64_t pause = r.retry_after_ms();
    return sdk::plugin_error(sdk::error{sdk::error_class::rate_limited,
                                        what + (r.looks_like_html() ? " (rate limited, HTML page)" : " (rate limited)"),
                                        {}, pause > 0 ? pause : default_pause_ms});
  }
  if (r.status >= 500) return sdk::plugin_error(sdk::error_class::retryable, what + (r.looks_like_html() ? " with an HTML page" : ""));
  if (r.looks_like_html()) return sdk::plugin_error(sdk::error_class::retryable, what + ": HTML page instead of JSON");
  if (r.status == 401) return sdk::plugin_error(sdk::error_class::auth, what + " (credentials missing or rejected)");
  return std::nullopt;
}

// The body as JSON, or a bad_data error saying so.
inline json parse_json(const sdk::http_response& r) {
  json body = json::parse(r.body, nullptr, false);
  if (body.is_discarded())
    throw sdk::plugin_error(sdk::error_class::bad_data, "HTTP " + std::to_string(r.status) + " body is not JSON");
  return body;
}

// Reads a JSON object of string -> string from settings (e.g. subject overrides).
inline std::map<std::string, std::string, std::less<>> string_map(const json& settings, const char* key) {
  std::map<std::string, std::string, std::less<>> out;
  if (auto it = settings.find(key); it != settings.end() && it->is_object())
    for (auto& [k, v] : it->items())
      if (v.is_string()) out[k] = v.get<std::string>();
  return out;
}

// Splits "BASE-QUOTE" into its parts; nullopt when it is not of that shape.
inline std::optional<std::pair<std::string, std::string>> split_pair(std::string_view s) {
  auto dash = s.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 == s.size() || s.find('-', dash + 1) != std::string_view::npos)
    return std::nullopt;
  return std::make_pair(std::string(s.substr(0, dash)), std::string(s.substr(dash + 1)));
}

inline std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace tributary::plugin_util
