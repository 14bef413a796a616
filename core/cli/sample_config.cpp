#include "cli/sample_config.hpp"

#include <sstream>

#include <nlohmann/json.hpp>

#include "plugin/plugin.hpp"
#include "util/duration.hpp"

namespace tributary {

namespace {

using json = nlohmann::json;

std::string example_subject(const std::string& kind) {
  if (kind == "price") return "BTC-USDT";
  if (kind == "market") return "global";
  if (kind == "indicator") return "BTC-USDT.rsi.1d";
  if (kind == "quote") return "SPY";
  if (kind == "candle") return "BTC-USDT.1h";
  if (kind == "sentiment") return "fear_greed";
  return "*";
}

// A string member of a schema object, or "" (a third party's schema may say anything).
std::string text_at(const json& j, const char* key) {
  auto it = j.is_object() ? j.find(key) : j.end();
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// A member of a schema object of the same type as `fallback`, or `fallback`.
json member(const json& j, const char* key, json fallback) {
  auto it = j.is_object() ? j.find(key) : j.end();
  return it != j.end() && it->type() == fallback.type() ? *it : fallback;
}

bool needs_input(const plugin_manifest& m) {
  return !m.secrets.empty() || !member(m.settings_schema, "required", json::array()).empty();
}

// One line per setting of the plugin's schema: secrets from their environment variable,
// required ones marked, the rest commented out.
void settings(std::ostream& o, const plugin_manifest& m, const std::string& lead) {
  auto props = member(m.settings_schema, "properties", json::object());
  auto required = member(m.settings_schema, "required", json::array());
  for (auto& [key, spec] : props.items()) {
    bool secret = std::find(m.secrets.begin(), m.secrets.end(), key) != m.secrets.end();
    bool must = std::find(required.begin(), required.end(), key) != required.end();
    std::string type = text_at(spec, "type"), about = text_at(spec, "description");
    if (about.empty()) about = type;
    if (secret) {
      auto i = static_cast<size_t>(std::find(m.secrets.begin(), m.secrets.end(), key) - m.secrets.begin());
      std::string env = i < m.secret_envs.size() ? m.secret_envs[i] : key;
      for (auto& c : env) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      o << lead << key << " = \"${" << env << "}\"   # secret: " << about << "\n";
    } else {
      std::string comment = (must ? "required" : "") + std::string(must && !about.empty() ? ": " : "") + about;
      o << (must || !lead.empty() ? lead : "# ") << key << " = " << (type == "string" ? "\"\"" : "...")
        << (comment.empty() ? "" : "   # " + comment) << "\n";
    }
  }
}

void plugin_section(std::ostream& o, const plugin_manifest& m) {
  bool active = !needs_input(m);
  std::string lead = active ? "" : "# ";
  std::string modes = std::string(m.polls ? "poll" : "") + (m.polls && m.streams ? ", " : "") + (m.streams ? "stream" : "");
  o << "\n# " << m.name << " " << m.version << ": " << m.description << "\n";
  std::string kinds;
  for (auto& k : m.kinds) kinds += (kinds.empty() ? "" : ", ") + k;
  o << "# kinds: " << kinds << "; modes: " << modes << "\n";
  o << lead << "[plugins." << m.name << "]\n";
  if (!m.default_base_url.empty()) o << "# base_url = \"" << m.default_base_url << "\"\n";
  o << "# timeout = \"" << format_duration(m.default_timeout) << "\"\n";
  o << "# rate_limit = { requests = " << m.default_rate_limit.requests << ", per = \"" << format_duration(m.default_rate_limit.per)
    << "\", burst = " << m.default_rate_limit.burst << " }\n";
  settings(o, m, lead);
  if (m.kinds.empty()) return;
  const std::string& kind = m.kinds.front();
  bool stream = !m.polls;
  o << "\n" << lead << "[feeds." << m.name << "_" << kind << "]\n"
    << lead << "kind = \"" << kind << "\"\n"
    << lead << "subjects = [\"" << example_subject(stream ? "event" : kind) << "\"]\n"
    << lead << (stream ? "mode = \"stream\"" : "every = \"30s\"") << "\n"
    << lead << "sources = [\"" << m.name << "\"]\n";
}

}  // namespace

std::string sample_config(const std::vector<plugin_manifest>& plugins, const std::vector<std::filesystem::path>& plugin_dirs) {
  std::ostringstream o;
  o << "# A Tributary config made by `tributary config sample` from the plugins found.\n"
       "# Every key is described in docs/configuration.md; `tributary check -c FILE` validates it.\n\n"
       "[host]\nplugin_dirs = [";
  for (size_t i = 0; i < plugin_dirs.size(); ++i) o << (i ? ", " : "") << json(std::filesystem::absolute(plugin_dirs[i]).string()).dump();
  o << "]\nlog_level = \"info\"            # trace, debug, info, warn, error\n\n"
       "[server]\nlisten = \"127.0.0.1:8081\"      # HTTP API, WebSocket at /ws, dashboard at /\n"
       "# [server.auth]\n# mode = \"jwt\"\n# jwt_secret = \"${TRIBUTARY_JWT_SECRET}\"\n\n"
       "# [cluster]                     # several instances sharing one Redis\n# mode = \"redis\"\n"
       "# redis_url = \"redis://127.0.0.1:6379\"\n";
  for (const auto& m : plugins) plugin_section(o, m);
  return o.str();
}

}  // namespace tributary
