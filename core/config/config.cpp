#include "util/cidr.hpp"
#include "config/config.hpp"
#include "config/server_settings.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include <toml++/toml.h>

#include "auth/access.hpp"
#include "net/redis.hpp"
#include "record/record.hpp"
#include "record/topic.hpp"
#include "sink/record_template.hpp"
#include "util/byte_size.hpp"
#include "util/listen.hpp"
#include "util/redactor.hpp"

namespace tributary {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string diagnostic::str() const {
  std::ostringstream o;
  o << where.file;
  if (where.line > 0) o << ':' << where.line << ':' << where.col;
  o << ": " << (severity == level::error ? "error" : "warning") << ": ";
  if (!path.empty()) o << path << ": ";
  o << message;
  return o.str();
}

const plugin_instance_config* config::plugin(std::string_view name) const {
  for (const auto& p : plugins)
    if (p.name == name) return &p;
  return nullptr;
}

size_t config_result::error_count() const {
  return static_cast<size_t>(std::count_if(diagnostics.begin(), diagnostics.end(), [](auto& d) {
    return d.severity == diagnostic::level::error;
  }));
}

env_lookup process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  };
}

static size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::optional<std::string> closest(std::string_view word, const std::vector<std::string>& cands) {
  std::optional<std::string> best;
  size_t best_d = std::max<size_t>(2, word.size() / 3) + 1;
  for (const auto& c : cands) {
    size_t d = edit_distance(word, c);
    if (d < best_d) best_d = d, best = c;
  }
  return best;
}

bool looks_secret(std::string_view key) {
  std::string k(key);
  std::transform(k.begin(), k.end(), k.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* w : {"key", "secret", "token", "password", "passwd"})
    if (k.find(w) != std::string::npos) return true;
  return false;
}

namespace {

// A TOML float as a person wrote it: 1.5, not 1.500000.
std::string toml_number_text(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

class parser {
 public:
  parser(fs::path file, const env_lookup& env, redactor* secrets)
      : file_(std::move(file)), env_(env), secrets_(secrets) {}

  config_result run(std::string_view text) {
    config cfg;
    cfg.file = file_;
    toml::table root;
    try {
      root = toml::parse(text, file_.string());
    } catch (const toml::parse_error& e) {
      error(pos(e.source()), "", std::string(e.description()));
      return finish(std::nullopt);
    }
    check_keys(root, "", {"host", "server", "cluster", "stream", "plugins", "feeds", "views", "sinks", "dialects"});
    if (auto* t = table_at(root, "host", "host")) read_host(*t, cfg);
    if (auto* t = table_at(root, "server", "server")) read_server(*t, cfg);
    if (auto* t = table_at(root, "cluster", "cluster")) read_cluster(*t, cfg);
    if (auto* t = table_at(root, "stream", "stream")) read_stream(*t, cfg);
    if (cfg.host.plugin_dirs.empty()) cfg.host.plugin_dirs.push_back(base_dir() / "plugins");
    if (auto* t = table_at(root, "plugins", "plugins"))
      for (auto&& [k, v] : *t) read_plugin(std::string(k.str()), v, cfg);
    if (auto* t = table_at(root, "feeds", "feeds"))
      for (auto&& [k, v] : *t) read_feed(std::string(k.str()), v, cfg);
    else
      warn(source_pos{file_.string(), 0, 0}, "feeds", "no [feeds.*] table: nothing will be fetched");
    if (auto* t = table_at(root, "views", "views"))
      for (auto&& [k, v] : *t) read_view(std::string(k.str()), v, cfg);
    if (auto* t = table_at(root, "sinks", "sinks"))
      for (auto&& [k, v] : *t) read_sink(std::string(k.str()), v, cfg);
    if (auto* t = table_at(root, "dialects", "dialects"))
      for (auto&& [k, v] : *t) read_dialect(std::string(k.str()), v, cfg);
    // toml++ iterates tables in key order; keep the file's order, which operators read as intent.
    auto by_pos = [](const auto& a, const auto& b) {
      return std::tie(a.where.line, a.where.col) < std::tie(b.where.line, b.where.col);
    };
    std::stable_sort(cfg.plugins.begin(), cfg.plugins.end(), by_pos);
    std::stable_sort(cfg.feeds.begin(), cfg.feeds.end(), by_pos);
    std::stable_sort(cfg.views.begin(), cfg.views.end(), by_pos);
    check_routes(cfg);
    check_feed_sources(cfg);
    return finish(std::move(cfg));
  }

 private:
  fs::path base_dir() const {
    auto d = file_.parent_path();
    return fs::absolute(d.empty() ? fs::path(".") : d);
  }

  source_pos pos(const toml::source_region& r) const {
    return {file_.string(), static_cast<int>(r.begin.line), static_cast<int>(r.begin.column)};
  }
  source_pos pos(const toml::node& n) const { return pos(n.source()); }

  void error(source_pos p, std::string path, std::string msg) {
    diags_.push_back({diagnostic::level::error, std::move(p), std::move(path), std::move(msg)});
  }
  void warn(source_pos p, std::string path, std::string msg) {
    diags_.push_back({diagnostic::level::warning, std::move(p), std::move(path), std::move(msg)});
  }

  config_result finish(std::optional<config> cfg) {
    config_result r;
    r.diagnostics = std::move(diags_);
    std::stable_sort(r.diagnostics.begin(), r.diagnostics.end(), [](auto& a, auto& b) {
      return std::tie(a.where.line, a.where.col) < std::tie(b.where.line, b.where.col);
    });
    if (r.error_count() == 0) r.cfg = std::move(cfg);
    else r.partial = std::move(cfg);
    return r;
  }

  static std::string join(const std::string& a, std::string_view b) {
    return a.empty() ? std::string(b) : a + "." + std::string(b);
  }

  void check_keys(const toml::table& t, const std::string& path,
                  const std::vector<std::string>& allowed) {
    for (auto&& [k, v] : t) {
      std::string key(k.str());
      if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
      std::string msg = "unknown key '" + key + "'";
      if (auto c = closest(key, allowed)) msg += " (did you mean '" + *c + "'?)";
      error(pos(k.source()), join(path, key), msg);
    }
  }

  const toml::table* table_at(const toml::table& t, std::string_view key, const std::string& path) {
    auto* n = t.get(key);
    if (!n) return nullptr;
    if (auto* tt = n->as_table()) return tt;
    error(pos(*n), path, "must be a table");
    return nullptr;
  }

  // ${VAR} and ${VAR:-default}. Returns nullopt (after recording `missing`) when a variable
  // without default is unset.
  std::optional<std::string> substitute(const std::string& in, std::string* missing,
                                        bool* had_env) {
    std::string out;
    size_t i = 0;
    while (i < in.size()) {
      size_t start = in.find("${", i);
      if (start == std::string::npos) {
        out += in.substr(i);
        break;
      }
      out += in.substr(i, start - i);
      size_t end = in.find('}', start);
      if (end == std::string::npos) {
        out += in.substr(start);
        break;
      }
      std::string expr = in.substr(start + 2, end - start - 2);
      std::optional<std::string> def;
      if (auto d = expr.find(":-"); d != std::string::npos) {
        def = expr.substr(d + 2);
        expr = expr.substr(0, d);
      }
      if (had_env) *had_env = true;
      auto v = env_(expr);
      if (v && !v->empty()) out += *v;
      else if (def) out += *def;
      else if (v) out += *v;
      else {
        if (missing) *missing = expr;
        return std::nullopt;
      }
      i = end + 1;
    }
    return out;
  }

  // A string value, env substituted; an unset variable is an error here.
  // A setting with a few named values (config/modes.hpp).
  template <class E>
  void read_mode(const toml::node& n, const std::string& path, E& out) {
    auto v = str(n, path);
    if (!v) return;
    if (auto m = parse_mode<E>(*v)) out = *m;
    else error(pos(n), path, not_a_mode<E>(*v));
  }

  // A string that is one `${VAR...}` and nothing else stands for a value of the key's type:
  // its variable's name and the text it gave, or nullopt (with an error when it is unset).
  struct from_env {
    std::string var, text;
  };
  std::optional<from_env> env_value(const toml::node& n, const std::string& path) {
    auto* s = n.as_string();
    if (!s) return std::nullopt;
    const std::string& t = s->get();
    if (t.size() < 4 || t.rfind("${", 0) != 0 || t.find('}') != t.size() - 1) return std::nullopt;
    auto v = str(n, path);
    if (!v) return std::nullopt;
    std::string var = t.substr(2, t.size() - 3);
    return from_env{var.substr(0, var.find(":-")), *v};
  }
  void not_of_type(const toml::node& n, const std::string& path, const from_env& e, const char* type) {
    error(pos(n), path, "must be " + std::string(type) + ": ${" + e.var + "} gives '" + e.text + "'");
  }

  std::optional<bool> boolean(const toml::node& n, const std::string& path) {
    if (auto* b = n.as_boolean()) return b->get();
    if (auto e = env_value(n, path)) {
      if (e->text == "true" || e->text == "false") return e->text == "true";
      not_of_type(n, path, *e, "true or false");
      return std::nullopt;
    }
    if (!n.as_string() || n.as_string()->get().rfind("${", 0) != 0) error(pos(n), path, "must be true or false");
    return std::nullopt;
  }

  std::optional<std::string> str(const toml::node& n, const std::string& path) {
    auto* s = n.as_string();
    if (!s) {
      error(pos(n), path, "must be a string");
      return std::nullopt;
    }
    std::string missing;
    auto v = substitute(s->get(), &missing, nullptr);
    if (!v) error(pos(n), path, "environment variable " + missing + " is not set");
    return v;
  }

  // Durations must be positive (a timeout of 0 is an error, not "no timeout") unless `zero_ok`.
  std::optional<millis> duration(const toml::node& n, const std::string& path, bool zero_ok = false) {
    if (n.is_number()) {  // every = 300: most likely seconds, but a unit it must have
      std::string v = n.is_integer() ? std::to_string(n.as_integer()->get()) : toml_number_text(n.as_floating_point()->get());
      error(pos(n), path, "a duration needs a unit, as a string: \"" + v + "s\" (or \"" + v + "ms\", \"" + v + "m\")");
      return std::nullopt;
    }
    auto s = str(n, path);
    if (!s) return std::nullopt;
    auto d = parse_duration(*s);
    if (!d) {
      error(pos(n), path, "'" + *s + "' is not a duration from 0 to " + format_duration(max_duration) +
                              " (use a unit: 250ms, 5s, 2m, 1h, 1d)");
    } else if (d->count() == 0 && !zero_ok) {
      error(pos(n), path, "must be more than 0");
      return std::nullopt;
    }
    return d;
  }

  // A secret too short to mask safely is an error; an empty one means "not set".
  void add_secret(const std::string& value, source_pos where, const std::string& path) {
    if (value.empty() || !secrets_) return;
    if (!secrets_->add(value))
      error(std::move(where), path, "a secret of " + std::to_string(value.size()) + " character(s) cannot be masked safely in logs; use at least " +
                                        std::to_string(redactor::min_length));
  }

  std::optional<int64_t> integer(const toml::node& n, const std::string& path, int64_t min,
                                 int64_t max) {
    std::optional<int64_t> v;
    if (auto* i = n.as_integer()) v = i->get();
    else if (auto e = env_value(n, path)) {
      int64_t x = 0;
      auto [end, ec] = std::from_chars(e->text.data(), e->text.data() + e->text.size(), x);
      if (ec != std::errc() || end != e->text.data() + e->text.size()) return not_of_type(n, path, *e, "an integer"), std::nullopt;
      v = x;
    } else if (n.as_string() && n.as_string()->get().rfind("${", 0) == 0) {
      return std::nullopt;  // an unset variable: reported by env_value
    } else {
      error(pos(n), path, "must be an integer");
      return std::nullopt;
    }
    if (*v < min || *v > max) {
      error(pos(n), path,
            "must be between " + std::to_string(min) + " and " + std::to_string(max));
      return std::nullopt;
    }
    return v;
  }

  std::optional<double> number(const toml::node& n, const std::string& path) {
    if (auto* i = n.as_integer()) return static_cast<double>(i->get());
    if (auto* f = n.as_floating_point()) return f->get();
    if (auto e = env_value(n, path)) {
      double x = 0;
      auto [end, ec] = std::from_chars(e->text.data(), e->text.data() + e->text.size(), x);
      if (ec == std::errc() && end == e->text.data() + e->text.size()) return x;
      not_of_type(n, path, *e, "a number");
      return std::nullopt;
    }
    if (!n.as_string() || n.as_string()->get().rfind("${", 0) != 0) error(pos(n), path, "must be a number");
    return std::nullopt;
  }

  std::optional<std::vector<std::string>> str_list(const toml::node& n, const std::string& path) {
    auto* a = n.as_array();
    if (!a) {
      error(pos(n), path, "must be an array of strings");
      return std::nullopt;
    }
    std::vector<std::string> out;
    for (size_t i = 0; i < a->size(); ++i) {
      auto v = str(*a->get(i), path + "[" + std::to_string(i) + "]");
      if (!v) return std::nullopt;
      out.push_back(*v);
    }
    return out;
  }

  void read_host(const toml::table& t, config& cfg) {
    check_keys(t, "host", {"plugin_dirs", "log_level", "log_format"});
    if (auto* n = t.get("plugin_dirs"))
      if (auto dirs = str_list(*n, "host.plugin_dirs"))
        for (auto& d : *dirs) {
          fs::path p(d);
          cfg.host.plugin_dirs.push_back(p.is_absolute() ? p : (base_dir() / p).lexically_normal());
        }
    if (auto* n = t.get("log_level"))
      if (auto v = str(*n, "host.log_level")) {
        static const std::vector<std::string> levels{"trace", "debug", "info", "warn", "error"};
        if (std::find(levels.begin(), levels.end(), *v) == levels.end())
          error(pos(*n), "host.log_level",
                "'" + *v + "' is not a level (trace, debug, info, warn, error)");
        else
          cfg.host.log_level = *v;
      }
    if (auto* n = t.get("log_format"))
      read_mode(*n, "host.log_format", cfg.host.log_format);
  }

  void read_server(const toml::table& t, config& cfg) {
    // The keys of the settings table that live in [server] itself, and those read by hand below.
    std::vector<std::string> keys{"limits", "auth", "allowed_origins", "protocols"};
    for (const auto& set : server_settings())
      if (split_key(set.key).first.empty()) keys.emplace_back(set.key);
    check_keys(t, "server", keys);
    auto& s = cfg.server;
    if (auto* n = t.get("listen"))
      if (auto v = str(*n, "server.listen")) {
        auto parsed = parse_listen(*v);
        if (auto* why = std::get_if<std::string>(&parsed)) {
          error(pos(*n), "server.listen", *why);
        } else {
          auto& l = std::get<listen_address>(parsed);
          s.listen = *v;
          s.address = l.host;
          s.port = l.port;
        }
      }
    if (auto* n = t.get("ws_path"))
      if (auto v = str(*n, "server.ws_path")) {
        if (v->empty() || v->front() != '/') error(pos(*n), "server.ws_path", "must start with '/'");
        else s.ws_path = *v;
      }
    read_settings(t, "", s);
    if (auto* n = t.get("history"); n && n->is_array()) {
      if (!n->as_array()->is_array_of_tables())
        error(pos(*n), "server.history", "is a number (updates per topic) or [[server.history]] tables with topics, size and ttl");
      read_history_rules(*n, s);
    }
    if (auto* n = t.get("allowed_origins")) {
      auto* a = n->as_array();
      if (!a) error(pos(*n), "server.allowed_origins", "must be an array of origins, as [\"https://app.example.com\"]");
      for (size_t i = 0; a && i < a->size(); ++i)
        if (auto v = str(*a->get(i), "server.allowed_origins[" + std::to_string(i) + "]")) s.allowed_origins.push_back(*v);
    }
    if (auto* n = t.get("protocols")) read_protocols(*n, s);
    if (auto* l = table_at(t, "limits", "server.limits")) {
      check_keys(*l, "server.limits", {"connections_per_ip", "messages_per_second", "messages_burst", "connections_per_user",
                                       "messages_per_minute_per_user", "trusted_proxies"});
      read_settings(*l, "limits", s);
      if (auto* n = l->get("trusted_proxies")) read_trusted_proxies(*n, s);
    }
    if (auto* a = table_at(t, "auth", "server.auth")) read_server_auth(*a, s);
  }

  // [server] protocols: a non-empty array of names, each once.
  void read_protocols(const toml::node& n, decltype(config::server)& s) {
    auto* a = n.as_array();
    if (!a || a->empty()) return error(pos(n), "server.protocols", "must be a non-empty array, as [\"tributary\", \"centrifugo\"]");
    std::vector<client_wire> out;
    bool ok = true;
    for (size_t i = 0; i < a->size(); ++i) {
      auto path = "server.protocols[" + std::to_string(i) + "]";
      auto v = str(*a->get(i), path);
      auto w = v ? parse_mode<client_wire>(*v) : std::nullopt;
      if (v && !w) error(pos(*a->get(i)), path, not_a_mode<client_wire>(*v));
      else if (w && std::find(out.begin(), out.end(), *w) != out.end()) error(pos(*a->get(i)), path, "names '" + *v + "' twice");
      else if (w) out.push_back(*w);
      ok = ok && w;
    }
    if (ok) s.protocols = std::move(out);
  }

  void read_server_auth(const toml::table& t, decltype(config::server)& s) {
    check_keys(t, "server.auth", {"mode", "admin_token", "jwt_secret", "jwt_public_key", "issuer", "audience", "user_claim", "public", "auth_timeout",
                                   "jwks_url", "jwks_refresh"});
    auto& a = s.auth;
    if (auto* n = t.get("mode"))
      read_mode(*n, "server.auth.mode", a.mode);
    if (auto* n = t.get("admin_token"))
      if (auto v = str(*n, "server.auth.admin_token")) {
        add_secret(*v, pos(*n), "server.auth.admin_token");
        s.admin_token = *v;
      }
    if (auto* n = t.get("jwt_secret"))
      if (auto v = str(*n, "server.auth.jwt_secret")) {
        add_secret(*v, pos(*n), "server.auth.jwt_secret");
        a.jwt_secret = *v;
        if (!v->empty() && v->size() < 32)
          warn(pos(*n), "server.auth.jwt_secret", "shorter than 32 bytes: an HS256 secret this short can be guessed offline from one token");
      }
    if (auto* n = t.get("jwt_public_key")) read_public_key(*n, a);
    if (auto* n = t.get("issuer"))
      if (auto v = str(*n, "server.auth.issuer")) a.issuer = *v;
    if (auto* n = t.get("audience"))
      if (auto v = str(*n, "server.auth.audience")) a.audience = *v;
    if (auto* n = t.get("jwks_url"))
      if (auto v = str(*n, "server.auth.jwks_url")) {
        if (!v->empty() && v->rfind("https://", 0) != 0 && v->rfind("http://", 0) != 0)
          error(pos(*n), "server.auth.jwks_url", "must be an http:// or https:// URL");
        else a.jwks_url = *v;
      }
    if (auto* n = t.get("jwks_refresh"))
      if (auto v = duration(*n, "server.auth.jwks_refresh")) {
        if (v->count() < 1000) error(pos(*n), "server.auth.jwks_refresh", "must be at least 1s");
        else a.jwks_refresh = *v;
      }
    if (auto* n = t.get("user_claim"))
      if (auto v = str(*n, "server.auth.user_claim")) {
        if (v->empty()) error(pos(*n), "server.auth.user_claim", "names no claim");
        else a.user_claim = *v;
      }
    if (auto* n = t.get("public")) read_public_patterns(*n, a);
    read_settings(t, "auth", s);
    if (a.mode == auth_mode::jwt && a.jwt_secret.empty() && a.jwt_public_key.empty() && a.jwks_url.empty())
      error(pos(t), "server.auth", "mode = \"jwt\" needs jwt_secret (HS256), jwt_public_key (RS256, ES256) or jwks_url");
  }

  void read_public_key(const toml::node& n, auth_config& a) {
    auto v = str(n, "server.auth.jwt_public_key");
    if (!v || v->empty()) return;
    fs::path p(*v);
    if (!p.is_absolute()) p = base_dir() / p;
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    if (in) ss << in.rdbuf();
    if (!in || ss.str().find("-----BEGIN PUBLIC KEY-----") == std::string::npos)
      return error(pos(n), "server.auth.jwt_public_key", "'" + p.string() + "' is not a readable PEM public key file (-----BEGIN PUBLIC KEY-----)");
    a.jwt_public_key_file = p.string();
    a.jwt_public_key = ss.str();
  }

  void read_trusted_proxies(const toml::node& n, server_section& s) {
    auto v = str_list(n, "server.limits.trusted_proxies");
    if (!v) return;
    for (size_t i = 0; i < v->size(); ++i)
      if (!parse_cidr((*v)[i]))
        return error(pos(n), "server.limits.trusted_proxies[" + std::to_string(i) + "]",
                     "'" + (*v)[i] + "' is not an address or a CIDR range (10.0.0.0/8, fd00::/8)");
    s.limits.trusted_proxies = *v;
  }

  void read_public_patterns(const toml::node& n, auth_config& a) {
    auto v = str_list(n, "server.auth.public");
    if (!v) return;
    for (size_t i = 0; i < v->size(); ++i)
      if (auto why = check_pattern((*v)[i]); !why.empty())
        return error(pos(n), "server.auth.public[" + std::to_string(i) + "]", why + ": '" + (*v)[i] + "'");
    a.public_patterns = *v;
  }

  // The [server] settings of the table (config/server_settings.hpp) that live in `t`: the
  // [server] table itself (`in` empty), or its `limits` or `auth`.
  void read_settings(const toml::table& t, std::string_view in, server_section& s) {
    for (const auto& set : server_settings()) {
      auto [table, key] = split_key(set.key);
      auto* n = table == in ? t.get(key) : nullptr;
      if (n && in.empty() && key == "history" && n->is_array()) continue;  // [[server.history]] rules: read_history_rules
      if (n) std::visit([&](auto at) { read_setting(*n, set, at(s)); }, set.at);
    }
  }

  // [[server.history]]: topics (patterns, required), size, ttl; the [server] defaults otherwise.
  void read_history_rules(const toml::node& n, server_section& s) {
    auto* rules = n.as_array();
    if (!rules || !rules->is_array_of_tables()) return;
    for (size_t i = 0; i < rules->size(); ++i) {
      auto path = "server.history[" + std::to_string(i) + "]";
      auto& t = *rules->get(i)->as_table();
      check_keys(t, path, {"topics", "size", "ttl"});
      history_rule r{{}, s.history, s.history_age};
      auto* topics = t.get("topics");
      auto list = topics ? str_list(*topics, path + ".topics") : std::nullopt;
      if (!topics) error(pos(t), path, "needs topics, the patterns it applies to: topics = [\"event.user.*\"]");
      for (size_t j = 0; list && j < list->size(); ++j)
        if (auto why = check_pattern((*list)[j]); !why.empty()) error(pos(*topics), path + ".topics", why + ": '" + (*list)[j] + "'");
      if (list && list->empty()) error(pos(*topics), path + ".topics", "names no pattern");
      if (list) r.topics = *list;
      if (auto* sz = t.get("size"))
        if (auto v = integer(*sz, path + ".size", 0, 1'000'000)) r.size = static_cast<size_t>(*v);
      if (auto* ttl = t.get("ttl"))
        if (auto v = duration(*ttl, path + ".ttl")) r.ttl = *v;
      s.history_rules.push_back(std::move(r));
    }
  }

  void setting_out_of_range(const toml::node& n, const server_setting& set, const std::string& path) {
    if (!set.below_min.empty()) return error(pos(n), path, std::string(set.below_min));
    error(pos(n), path, "must be between " + std::to_string(int64_t(set.min)) + " and " + std::to_string(int64_t(set.max)));
  }
  void read_setting(const toml::node& n, const server_setting& set, size_t& out) {
    if (auto v = integer(n, "server." + std::string(set.key), int64_t(set.min), int64_t(set.max))) out = static_cast<size_t>(*v);
  }
  void read_setting(const toml::node& n, const server_setting& set, double& out) {
    std::string path = "server." + std::string(set.key);
    auto v = number(n, path);
    if (v && (*v < set.min || *v > set.max)) setting_out_of_range(n, set, path);
    else if (v) out = *v;
  }
  void read_setting(const toml::node& n, const server_setting& set, millis& out) {
    std::string path = "server." + std::string(set.key);
    auto v = duration(n, path);
    if (v && v->count() < set.min) setting_out_of_range(n, set, path);
    else if (v) out = *v;
  }
  void read_setting(const toml::node& n, const server_setting& set, bool& out) {
    if (auto b = boolean(n, "server." + std::string(set.key))) out = *b;
  }
  void read_setting(const toml::node& n, const server_setting& set, slow_policy& out) {
    read_mode(n, "server." + std::string(set.key), out);
  }
  void read_setting(const toml::node& n, const server_setting& set, compression_mode& out) {
    read_mode(n, "server." + std::string(set.key), out);
  }
  void read_setting(const toml::node&, const server_setting&, std::string&) {}  // read apart, with its own checks
  void read_setting(const toml::node&, const server_setting&, auth_mode&) {}

  void read_cluster(const toml::table& t, config& cfg) {
    check_keys(t, "cluster", {"mode", "redis_url", "name", "lease", "renew_every", "cache_ttl", "buffer", "on_redis_down"});
    auto& c = cfg.cluster;
    if (auto* n = t.get("mode"))
      read_mode(*n, "cluster.mode", c.mode);
    if (auto* n = t.get("redis_url"))
      if (auto v = redis_url(*n, "cluster.redis_url")) c.redis_url = *v;
    if (auto* n = t.get("name"))
      if (auto v = str(*n, "cluster.name")) c.name = *v;
    if (auto* n = t.get("lease"))
      if (auto v = duration(*n, "cluster.lease")) c.lease = *v;
    if (auto* n = t.get("renew_every"))
      if (auto v = duration(*n, "cluster.renew_every")) c.renew_every = *v;
    if (auto* n = t.get("cache_ttl"))
      if (auto v = duration(*n, "cluster.cache_ttl")) c.cache_ttl = *v;
    if (auto* n = t.get("on_redis_down"))
      read_mode(*n, "cluster.on_redis_down", c.on_redis_down);
    if (auto* n = t.get("buffer"))
      if (auto v = integer(*n, "cluster.buffer", 1, 10'000'000)) c.buffer = static_cast<size_t>(*v);
    if (c.renew_every >= c.lease)
      error(pos(t), "cluster.renew_every", "must be shorter than cluster.lease");
  }

  // A redis:// URL, its password registered as a secret; nullopt (and an error) when malformed.
  std::optional<std::string> redis_url(const toml::node& n, const std::string& path) {
    auto v = str(n, path);
    if (!v) return std::nullopt;
    if (auto at = v->find('@'); at != std::string::npos) {  // redis://user:password@host
      auto colon = v->rfind(':', at);
      if (colon != std::string::npos && colon > 8) add_secret(v->substr(colon + 1, at - colon - 1), pos(n), path);
    }
    auto parsed = parse_redis_url_or_why(*v);
    if (auto* why = std::get_if<std::string>(&parsed)) {
      error(pos(n), path, *why);  // never quotes the password
      return std::nullopt;
    }
    return v;
  }

  void read_stream(const toml::table& t, config& cfg) {
    check_keys(t, "stream", {"enabled", "maxlen"});
    if (auto* n = t.get("enabled")) {
      if (auto b = boolean(*n, "stream.enabled")) cfg.stream.enabled = *b;
    }
    if (auto* n = t.get("maxlen"))
      if (auto v = integer(*n, "stream.maxlen", 1, 1'000'000'000)) cfg.stream.maxlen = *v;
  }

  // TOML value -> JSON for plugin-owned keys, substituting env in strings.
  std::optional<json> to_json(const toml::node& n, const std::string& path, std::string* missing,
                              bool* had_env) {
    if (auto* s = n.as_string()) {
      auto v = substitute(s->get(), missing, had_env);
      if (!v) return std::nullopt;
      return json(*v);
    }
    if (auto* i = n.as_integer()) return json(i->get());
    if (auto* f = n.as_floating_point()) return json(f->get());
    if (auto* b = n.as_boolean()) return json(b->get());
    if (auto* a = n.as_array()) {
      json out = json::array();
      for (size_t i = 0; i < a->size(); ++i) {
        auto v = to_json(*a->get(i), path, missing, had_env);
        if (!v) return std::nullopt;
        out.push_back(*v);
      }
      return out;
    }
    if (auto* t = n.as_table()) {
      json out = json::object();
      for (auto&& [k, v] : *t) {
        auto j = to_json(v, path + "." + std::string(k.str()), missing, had_env);
        if (!j) return std::nullopt;
        out[std::string(k.str())] = *j;
      }
      return out;
    }
    error(pos(n), path, "dates and times are not supported here");
    return json();
  }

  void read_plugin(const std::string& name, const toml::node& node, config& cfg) {
    std::string path = "plugins." + name;
    auto* t = node.as_table();
    if (!t) {
      error(pos(node), path, "must be a table");
      return;
    }
    plugin_instance_config p;
    p.name = name;
    p.plugin = name;
    p.where = pos(node);
    for (auto&& [k, v] : *t) {
      std::string key(k.str()), kp = path + "." + key;
      if (!read_host_key(key, v, kp, p)) read_plugin_setting(key, v, kp, p);
    }
    if (p.exec() && p.isolation == plugin_isolation::none && t->contains("isolation"))
      error(pos(*t->get("isolation")), path + ".isolation", "an exec plugin always runs in its own process");
    check_exec(p, path);
    if (p.disabled_by == plugin_instance_config::off_cause::config)
      warn(p.where, path, "instance '" + name + "' is disabled (enabled = false)");
    cfg.plugins.push_back(std::move(p));
  }

  // A key of [plugins.X] the host owns; false when the key is the plugin's.
  bool read_host_key(const std::string& key, const toml::node& v, const std::string& kp, plugin_instance_config& p) {
    if (key == "plugin") {
      if (auto s = str(v, kp)) p.plugin = *s;
    } else if (key == "base_url") {
      if (auto s = str(v, kp)) {
        if (s->rfind("http://", 0) != 0 && s->rfind("https://", 0) != 0)
          error(pos(v), kp, "must start with http:// or https://");
        else
          p.base_url = *s;
      }
    } else if (key == "timeout") {
      p.timeout = duration(v, kp);
    } else if (key == "enabled") {
      if (auto b = boolean(v, kp); b && !*b)
        p.enabled = false, p.disabled_by = plugin_instance_config::off_cause::config, p.disabled_reason = "enabled = false";
    } else if (key == "rate_limit") {
      p.rate_limit = read_rate_limits(v, kp);
    } else if (key == "shared_budget") {
      if (auto b = boolean(v, kp)) p.shared_budget = *b;
    } else if (key == "retries") {
      if (auto n = integer(v, kp, 0, 10)) p.retries = static_cast<int>(*n);
    } else if (key == "backoff") {
      if (auto d = duration(v, kp)) p.backoff = *d;
    } else if (key == "circuit") {
      read_circuit(v, kp, p);
    } else if (read_isolation_key(key, v, kp, p)) {
    } else if (key == "kinds") {
      auto j = to_json(v, kp, nullptr, nullptr);
      if (!j || !j->is_object()) error(pos(v), kp, "must be a table of kinds: { order = { fields = { ... }, required = [...] } }");
      else p.kinds = std::move(*j), p.kinds_where = pos(v);
    } else {
      return false;
    }
    return true;
  }

  // isolation, call_timeout, cpu_limit, memory_limit, command: where and how the plugin runs.
  bool read_isolation_key(const std::string& key, const toml::node& v, const std::string& kp, plugin_instance_config& p) {
    if (key == "isolation") {
      read_mode(v, kp, p.isolation);
    } else if (key == "call_timeout") {
      if (auto d = duration(v, kp)) p.call_timeout = *d;
    } else if (key == "cpu_limit") {
      if (auto d = duration(v, kp, true)) p.cpu_limit = *d;
    } else if (key == "memory_limit") {
      auto s = v.as_string() ? std::optional(v.as_string()->get()) : std::nullopt;
      auto n = v.as_integer() ? std::optional<uint64_t>(std::max<int64_t>(0, v.as_integer()->get())) : s ? parse_bytes(*s) : std::nullopt;
      if (!n) error(pos(v), kp, "must be a size: \"256MiB\", \"1GiB\" or a number of bytes");
      else if (*n != 0 && *n < (16u << 20)) error(pos(v), kp, "must be at least 16MiB (or 0 for no limit)");
      else p.memory_limit = *n;
    } else if (key == "command") {
      auto list = str_list(v, kp);
      if (list && list->empty()) error(pos(v), kp, "must name a program: [\"python3\", \"plugin.py\"]");
      else if (list) p.command = std::move(*list);
    } else {
      return false;
    }
    return true;
  }

  // plugin = "exec" needs a command and runs in its own process; a command needs exec.
  void check_exec(plugin_instance_config& p, const std::string& path) {
    if (p.exec() && p.command.empty()) error(p.where, path + ".command", "an exec plugin needs command = [\"program\", \"args\"...]");
    if (!p.exec() && !p.command.empty()) error(p.where, path + ".command", "command is for plugin = \"exec\" only");
    if (p.exec()) p.isolation = plugin_isolation::process;
    p.workdir = base_dir();
  }

  // A plugin-owned key: kept as JSON for the plugin; an unset environment variable in it
  // disables the instance (with a warning), a secret-looking value is masked everywhere.
  void read_plugin_setting(const std::string& key, const toml::node& v, const std::string& kp, plugin_instance_config& p) {
    std::string missing;
    bool had_env = false;
    auto j = to_json(v, kp, &missing, &had_env);
    if (!j) {
      if (p.enabled) {
        p.enabled = false;
        p.disabled_by = plugin_instance_config::off_cause::missing_env;
        p.disabled_reason = "environment variable " + missing + " is not set (" + kp + ")";
        warn(pos(v), kp, "environment variable " + missing + " is not set: instance '" + p.name + "' is disabled");
      }
      return;
    }
    if (j->is_string() && looks_secret(key)) add_secret(j->get<std::string>(), pos(v), kp);
    p.settings[key] = *j;
    p.setting_pos[key] = pos(v);
  }

  void read_circuit(const toml::node& n, const std::string& path, plugin_instance_config& p) {
    auto* t = n.as_table();
    if (!t) {
      error(pos(n), path, "must be a table { failures = N, cooldown = \"30s\" }");
      return;
    }
    check_keys(*t, path, {"failures", "cooldown"});
    if (auto* f = t->get("failures"))
      if (auto v = integer(*f, path + ".failures", 1, 1000)) p.circuit_failures = static_cast<int>(*v);
    if (auto* c = t->get("cooldown"))
      if (auto v = duration(*c, path + ".cooldown")) p.circuit_cooldown = *v;
  }

  // One window as a table, or several as an array of tables.
  std::optional<std::vector<rate_limit_config>> read_rate_limits(const toml::node& n, const std::string& path) {
    std::vector<rate_limit_config> out;
    if (auto* a = n.as_array()) {
      if (a->empty()) error(pos(n), path, "needs at least one window");
      for (size_t i = 0; i < a->size(); ++i)
        if (auto w = read_rate_limit(*a->get(i), path + "[" + std::to_string(i) + "]")) out.push_back(*w);
      return out.size() == a->size() && !out.empty() ? std::optional(out) : std::nullopt;
    }
    if (auto w = read_rate_limit(n, path)) return std::vector<rate_limit_config>{*w};
    return std::nullopt;
  }

  std::optional<rate_limit_config> read_rate_limit(const toml::node& n, const std::string& path) {
    auto* t = n.as_table();
    if (!t) {
      error(pos(n), path, "must be a table { requests = N, per = \"1m\", burst = N }, or an array of them");
      return std::nullopt;
    }
    check_keys(*t, path, {"requests", "per", "burst"});
    rate_limit_config r;
    auto* req = t->get("requests");
    auto* per = t->get("per");
    if (!req || !per) {
      error(pos(n), path, "needs both `requests` and `per`");
      return std::nullopt;
    }
    auto rq = number(*req, path + ".requests");
    auto pd = duration(*per, path + ".per");
    if (!rq || !pd) return std::nullopt;
    if (*rq <= 0) error(pos(*req), path + ".requests", "must be greater than 0");
    if (pd->count() <= 0) error(pos(*per), path + ".per", "must be greater than 0");
    r.requests = *rq;
    r.per = *pd;
    r.burst = *rq;
    if (auto* b = t->get("burst"))
      if (auto v = number(*b, path + ".burst")) {
        if (*v < 1) error(pos(*b), path + ".burst", "must be at least 1");
        r.burst = *v;
      }
    return r;
  }

  void read_feed(const std::string& id, const toml::node& node, config& cfg) {
    std::string path = "feeds." + id;
    auto* t = node.as_table();
    if (!t) {
      error(pos(node), path, "must be a table");
      return;
    }
    check_keys(*t, path, {"kind", "subjects", "every", "jitter", "sources", "mode", "schedule", "align", "adapt", "max_every",
                         "demand", "demand_linger"});
    feed_config f;
    f.id = id;
    f.where = pos(node);
    for (auto&& [k, v] : *t) f.key_pos[std::string(k.str())] = pos(v);
    if (auto* n = t->get("mode"))
      if (auto v = str(*n, path + ".mode")) {
        if (*v != "poll" && *v != "stream") error(pos(*n), path + ".mode", "'" + *v + "' is not a mode (poll, stream)");
        f.stream = *v == "stream";
      }
    if (auto* n = t->get("kind")) read_feed_kind(*n, path, f);
    else error(pos(node), path, "missing required key `kind`");
    if (auto* n = t->get("subjects")) read_feed_subjects(*n, path, f);
    else error(pos(node), path, "missing required key `subjects`");
    if (auto* n = t->get("every")) {
      if (auto v = duration(*n, path + ".every")) {
        if (v->count() < 100) error(pos(*n), path + ".every", "must be at least 100ms");
        f.every = *v;
      }
    } else if (!f.stream && !t->get("schedule")) {
      error(pos(node), path, "missing required key `every` (or `schedule`)");
    }
    read_timing(f, *t, path);
    f.jitter = f.schedule || f.align ? millis(0) : std::min(millis(1000), f.every / 10);
    if (auto* n = t->get("jitter"))
      if (auto v = duration(*n, path + ".jitter", /*zero_ok=*/true)) f.jitter = *v;
    if (auto* n = t->get("sources")) {
      if (auto v = str_list(*n, path + ".sources")) {
        f.sources = *v;
        if (f.sources.empty()) error(pos(*n), path + ".sources", "must name at least one source");
      }
    } else {
      error(pos(node), path, "missing required key `sources`");
    }
    if (f.stream) check_stream_fallback(f, *t, path, pos(node));
    cfg.feeds.push_back(std::move(f));
  }

  // A kind that is not built in may be declared by a plugin: the host checks it once the
  // plugins are loaded. A near miss of a built-in kind is a typo, reported here.
  void read_feed_kind(const toml::node& n, const std::string& path, feed_config& f) {
    auto v = str(n, path + ".kind");
    if (!v) return;
    auto near = vocabulary::known_kind(*v) ? std::nullopt : closest(*v, vocabulary::kinds());
    if (!near && vocabulary::valid_kind_name(*v)) {
      f.kind = *v;
      return;
    }
    std::string msg = "unknown kind '" + *v + "'";
    if (near) msg += " (did you mean '" + *near + "'?)";
    error(pos(n), path + ".kind", msg);
  }

  void read_feed_subjects(const toml::node& n, const std::string& path, feed_config& f) {
    auto v = str_list(n, path + ".subjects");
    if (!v) return;
    f.subjects = *v;
    if (f.subjects.empty()) error(pos(n), path + ".subjects", "must name at least one subject");
    std::set<std::string> seen;
    for (auto& s : f.subjects)
      if (!seen.insert(s).second) error(pos(n), path + ".subjects", "'" + s + "' is listed twice");
    for (auto& s : f.subjects) {
      if (f.kind.empty() || (s == "*" && f.stream)) continue;  // a push source may publish any subject
      if (auto why = vocabulary::check_subject(f.kind, s)) error(pos(n), path + ".subjects", "'" + s + "': " + *why);
    }
  }

  // `schedule` (cron-style) instead of `every`, or `align = true` with `every`.
  void read_timing(feed_config& f, const toml::table& t, const std::string& path) {
    if (auto* n = t.get("schedule"))
      if (auto v = str(*n, path + ".schedule")) {
        auto parsed = cron_schedule::parse(*v);
        if (auto* e = std::get_if<std::string>(&parsed)) error(pos(*n), path + ".schedule", *e);
        else if (!std::get<cron_schedule>(parsed).next_after(0)) error(pos(*n), path + ".schedule", "'" + *v + "' never comes");
        else if (t.get("every")) error(pos(*n), path + ".schedule", "give `every` or `schedule`, not both");
        else if (f.stream) error(pos(*n), path + ".schedule", "a stream feed has no schedule: its source pushes");
        else f.schedule = std::get<cron_schedule>(parsed);
      }
    if (auto* n = t.get("align")) {
      if (auto b = boolean(*n, path + ".align")) f.align = *b;
      if (f.align && !t.get("every")) error(pos(*n), path + ".align", "aligns runs of `every`; this feed has none");
    }
    read_adapt(f, t, path);
    read_demand(f, t, path);
  }

  // demand = "subscribed" polls only the subjects someone wants; demand_linger keeps one polled
  // that long after its last subscriber left.
  void read_demand(feed_config& f, const toml::table& t, const std::string& path) {
    if (auto* n = t.get("demand"))
      if (auto v = str(*n, path + ".demand")) {
        if (*v == "subscribed") f.demand = feed_config::demand_mode::subscribed;
        else if (*v != "always") error(pos(*n), path + ".demand", "'" + *v + "' is not a demand (always, subscribed)");
      }
    if (auto* n = t.get("demand_linger")) {
      if (auto d = duration(*n, path + ".demand_linger", /*zero_ok=*/true)) f.demand_linger = *d;
      if (f.demand != feed_config::demand_mode::subscribed)
        error(pos(*n), path + ".demand_linger", "is how long demand = \"subscribed\" keeps polling a subject nobody wants; this feed polls always");
    }
  }

  // adapt = true stretches `every` up to max_every: it needs an interval to stretch.
  void read_adapt(feed_config& f, const toml::table& t, const std::string& path) {
    if (auto* n = t.get("adapt"))
      if (auto b = boolean(*n, path + ".adapt")) f.adapt = *b;
    if (auto* n = t.get("max_every")) {
      if (auto d = duration(*n, path + ".max_every")) f.max_every = *d;
      if (!f.adapt) error(pos(*n), path + ".max_every", "is how far adapt = true may stretch `every`; this feed does not adapt");
    }
    if (!f.adapt) return;
    auto* n = t.get("adapt");
    if (!t.get("every") || f.stream) error(pos(*n), path + ".adapt", "stretches a polled feed's `every`; this feed has none");
    else if (f.max_every < f.every) error(pos(*n), path + ".max_every", "must be at least `every` (" + format_duration(f.every) + ")");
  }

  // A stream feed's first source streams; any later one is polled every `every` while the
  // stream is down, so it needs `every` and named subjects.
  void check_stream_fallback(const feed_config& f, const toml::table& t, const std::string& path, const source_pos& where) {
    auto* every = t.get("every");
    if (f.sources.size() <= 1) {
      if (every) warn(pos(*every), path + ".every", "not used: a stream feed with one source publishes as messages arrive");
      return;
    }
    if (!every) error(where, path, "missing key `every`: sources after the first are polled at that interval while the stream is down");
    if (std::find(f.subjects.begin(), f.subjects.end(), "*") != f.subjects.end())
      error(where, path + ".subjects", "'*' cannot be polled: a stream feed with fallback sources must name its subjects");
  }

  void read_view(const std::string& name, const toml::node& node, config& cfg) {
    std::string path = "views." + name;
    auto* t = node.as_table();
    if (!t) return error(pos(node), path, "must be a table");
    check_keys(*t, path, {"route", "fields", "refresh", "refresh_auth"});
    if (name.empty() || !std::all_of(name.begin(), name.end(), [](unsigned char c) { return std::isalnum(c) || c == '_' || c == '-'; }))
      return error(pos(node), path, "a view name is letters, digits, '_' and '-'");
    view_config v;
    v.name = name;
    v.where = pos(node);
    if (auto* n = t->get("route"))
      if (auto r = str(*n, path + ".route")) {
        if (r->empty() || r->front() != '/' || r->find_first_of("?# ") != std::string::npos)
          error(pos(*n), path + ".route", "must be a path starting with '/', without '?', '#' or spaces");
        else v.route = *r;
      }
    if (auto* n = t->get("refresh"))
      if (auto b = boolean(*n, path + ".refresh")) v.refresh = *b;
    if (auto* n = t->get("refresh_auth"))
      if (auto b = boolean(*n, path + ".refresh_auth")) v.refresh_auth = *b;
    if ((v.refresh || v.refresh_auth) && v.route.empty())
      error(pos(node), path, "refresh is served at <route>/refresh: set `route` too");
    if (v.refresh_auth && cfg.server.admin_token.empty())
      error(pos(node), path + ".refresh_auth", "needs [server.auth] admin_token");
    auto* f = t->get("fields");
    if (!f) return error(pos(node), path, "missing required key `fields`");
    auto* ft = f->as_table();
    if (!ft || ft->empty()) return error(pos(*f), path + ".fields", "must be a table of out = \"topic:field\"");
    for (auto&& [k, val] : *ft)
      if (auto field = read_view_field(std::string(k.str()), val, path + ".fields." + std::string(k.str()))) v.fields.push_back(*field);
    cfg.views.push_back(std::move(v));
  }

  // ---- [dialects.NAME] (docs/clients.md, Dialects)

  std::optional<message_template> read_template(const toml::node& n, const std::string& path) {
    auto v = str(n, path);
    if (!v) return std::nullopt;
    std::string why;
    auto t = message_template::compile(*v, why);
    if (!t) error(pos(n), path, why);
    return t;
  }

  void read_dialect(const std::string& name, const toml::node& node, config& cfg) {
    std::string path = "dialects." + name;
    auto* t = node.as_table();
    if (!t) return error(pos(node), path, "must be a table");
    check_keys(*t, path, {"path", "type", "on_open", "error", "receive", "channels"});
    dialect_config d;
    d.name = name;
    d.where = pos(node);
    d.type = "type";
    if (auto* n = t->get("path"))
      if (auto v = str(*n, path + ".path")) {
        if (v->empty() || v->front() != '/' || v->find_first_of("?# ") != std::string::npos)
          error(pos(*n), path + ".path", "must be a path starting with '/', without '?', '#' or spaces");
        d.path = *v;
      }
    if (d.path.empty()) error(pos(node), path, "missing required key `path`");
    if (auto* n = t->get("type"))
      if (auto v = str(*n, path + ".type")) d.type = *v;
    if (auto* n = t->get("on_open")) d.on_open = read_template(*n, path + ".on_open");
    if (auto* n = t->get("error")) d.error = read_template(*n, path + ".error");
    if (auto* r = table_at(*t, "receive", path + ".receive"))
      for (auto&& [k, v] : *r) read_dialect_receive(std::string(k.str()), v, path + ".receive." + std::string(k.str()), d);
    if (auto* c = table_at(*t, "channels", path + ".channels"))
      for (auto&& [k, v] : *c) read_dialect_channel(std::string(k.str()), v, path + ".channels." + std::string(k.str()), d);
    else
      error(pos(node), path, "missing required table `channels`: channel names and their topics");
    std::stable_partition(d.channels.begin(), d.channels.end(), [](const dialect_channel& c) { return c.name != "*"; });
    cfg.dialects.push_back(std::move(d));
  }

  void read_dialect_receive(const std::string& type, const toml::node& node, const std::string& path, dialect_config& d) {
    auto* t = node.as_table();
    if (!t) return error(pos(node), path, "must be a table");
    check_keys(*t, path, {"action", "channel", "token", "reply", "error"});
    dialect_receive r;
    auto* a = t->get("action");
    if (!a) return error(pos(node), path, "missing required key `action` (subscribe, unsubscribe, auth, reply)");
    read_mode(*a, path + ".action", r.action);
    const char* arg = r.action == dialect_action::auth ? "token" : r.action == dialect_action::reply ? nullptr : "channel";
    if (arg && !t->get(arg)) error(pos(node), path, std::string("missing required key `") + arg + "`: the dotted path of it in the message");
    if (auto* n = t->get("channel"))
      if (auto v = str(*n, path + ".channel")) r.channel = *v;
    if (auto* n = t->get("token"))
      if (auto v = str(*n, path + ".token")) r.token = *v;
    if (auto* n = t->get("reply"))
      if (auto tpl = read_template(*n, path + ".reply")) r.reply = std::move(*tpl);
    if (auto* n = t->get("error")) r.error = read_template(*n, path + ".error");
    d.receive[type] = std::move(r);
  }

  void read_dialect_channel(const std::string& name, const toml::node& node, const std::string& path, dialect_config& d) {
    auto* t = node.as_table();
    if (!t) return error(pos(node), path, "must be a table");
    check_keys(*t, path, {"topics", "send"});
    dialect_channel c;
    c.name = name;
    if (auto* n = t->get("topics"))
      if (auto v = str(*n, path + ".topics")) c.topics = *v;
    if (c.topics.empty()) return error(pos(node), path, "missing required key `topics`: a topic pattern, with {sub} or {channel}");
    std::string sample = c.topics;
    for (auto [from, to] : {std::pair<std::string, std::string>{"{sub}", "u1"}, {"{channel}", "c1"}})
      for (auto at = sample.find(from); at != std::string::npos; at = sample.find(from)) sample.replace(at, from.size(), to);
    if (auto why = check_pattern(sample); !why.empty()) error(pos(*t->get("topics")), path + ".topics", why);
    if (c.topics.find("{channel}") != std::string::npos && name != "*")
      error(pos(*t->get("topics")), path + ".topics", "{channel} is for the \"*\" channel, whose name varies");
    auto* s = t->get("send");
    if (!s) return error(pos(node), path, "missing required key `send`: the message each record is sent as");
    if (auto tpl = read_template(*s, path + ".send")) c.send = std::move(*tpl);
    d.channels.push_back(std::move(c));
  }

  void read_sink(const std::string& name, const toml::node& node, config& cfg) {
    std::string path = "sinks." + name;
    auto* t = node.as_table();
    if (!t) return error(pos(node), path, "must be a table");
    check_keys(*t, path, {"type", "records", "buffer", "brokers", "topic", "security_protocol", "sasl_mechanism", "sasl_username",
                          "sasl_password", "ssl_ca", "redis_url", "key", "maxlen", "format"});
    sink_config s;
    s.name = name;
    s.where = pos(node);
    s.redis_url = cfg.cluster.redis_url;
    auto* type = t->get("type");
    if (!type) return error(pos(node), path, "missing required key `type` (kafka, redis_stream)");
    auto tv = str(*type, path + ".type");
    if (!tv) return;
    auto st = parse_mode<sink_type>(*tv);
    if (!st) return error(pos(*type), path + ".type", not_a_mode<sink_type>(*tv));
    s.type = *st;
    if (auto* n = t->get("records")) read_sink_records(*n, path + ".records", s);
    if (auto* n = t->get("buffer"))
      if (auto v = integer(*n, path + ".buffer", 1, 10'000'000)) s.buffer = static_cast<size_t>(*v);
    if (s.type == sink_type::kafka) read_kafka_sink(*t, path, s);
    else read_redis_stream_sink(*t, path, s);
    cfg.sinks.push_back(std::move(s));
  }

  void read_sink_records(const toml::node& n, const std::string& path, sink_config& s) {
    auto v = str_list(n, path);
    if (!v) return;
    for (size_t i = 0; i < v->size(); ++i)
      if (auto why = check_pattern((*v)[i]); !why.empty()) return error(pos(n), path + "[" + std::to_string(i) + "]", why + ": '" + (*v)[i] + "'");
    s.records = *v;
  }

  void read_kafka_sink(const toml::table& t, const std::string& path, sink_config& s) {
    for (const char* key : {"redis_url", "key", "maxlen", "format"})
      if (auto* n = t.get(key)) error(pos(*n), path + "." + key, "is a key of redis_stream sinks, not of kafka ones");
    auto* b = t.get("brokers");
    if (!b) return error(pos(t), path, "missing required key `brokers` (host:port,host:port)");
    if (auto v = str(*b, path + ".brokers")) s.brokers = *v;
    if (auto* n = t.get("topic"))
      if (auto v = str(*n, path + ".topic")) s.topic = *v;
    auto compiled = record_template::compile(s.topic);
    if (auto* why = std::get_if<std::string>(&compiled)) error(pos(t), path + ".topic", *why);
    for (auto [key, property] : {std::pair{"security_protocol", "security.protocol"}, std::pair{"sasl_mechanism", "sasl.mechanism"},
                                 std::pair{"sasl_username", "sasl.username"}, std::pair{"sasl_password", "sasl.password"},
                                 std::pair{"ssl_ca", "ssl.ca.location"}})
      if (auto* n = t.get(key))
        if (auto v = str(*n, path + "." + key)) {
          if (std::string_view(key) == "sasl_password") add_secret(*v, pos(*n), path + "." + key);
          s.client_settings.emplace_back(property, *v);
        }
  }

  void read_redis_stream_sink(const toml::table& t, const std::string& path, sink_config& s) {
    for (const char* key : {"brokers", "topic", "security_protocol", "sasl_mechanism", "sasl_username", "sasl_password", "ssl_ca"})
      if (auto* n = t.get(key)) error(pos(*n), path + "." + key, "is a key of kafka sinks, not of redis_stream ones");
    if (auto* n = t.get("redis_url"))
      if (auto v = redis_url(*n, path + ".redis_url")) s.redis_url = *v;
    if (auto* n = t.get("key"))
      if (auto v = str(*n, path + ".key")) {
        if (v->empty()) error(pos(*n), path + ".key", "must not be empty");
        s.key = *v;
      }
    if (auto* n = t.get("maxlen"))
      if (auto v = integer(*n, path + ".maxlen", 1, 1'000'000'000)) s.maxlen = static_cast<size_t>(*v);
    if (auto* n = t.get("format")) read_mode(*n, path + ".format", s.format);
  }

  std::optional<view_field> read_view_field(const std::string& out, const toml::node& n, const std::string& path) {
    auto ref = str(n, path);
    if (!ref) return std::nullopt;
    auto colon = ref->rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == ref->size()) {
      error(pos(n), path, "'" + *ref + "' is not a field reference (topic:field, as price.BTC-USD:price)");
      return std::nullopt;
    }
    view_field f{out, ref->substr(0, colon), ref->substr(colon + 1)};
    if (auto why = check_pattern(f.topic); !why.empty() || f.topic.find('*') != std::string::npos || f.topic.find('.') == std::string::npos) {
      error(pos(n), path, "'" + f.topic + "' is not a topic (kind.subject, no wildcard)");
      return std::nullopt;
    }
    if (!personal_owner(f.topic).empty()) {
      error(pos(n), path, "a view cannot read a personal topic ('" + f.topic + "'): its object is published to every reader of view.*");
      return std::nullopt;
    }
    if (f.topic.rfind("view.", 0) == 0) {
      error(pos(n), path, "a view cannot read another view ('" + f.topic + "')");
      return std::nullopt;
    }
    if (out == "updated_at" || out == "stale") {
      error(pos(n), path, "'" + out + "' is set by the host; choose another name");
      return std::nullopt;
    }
    return f;
  }

  // View routes must not shadow the built-in ones or each other.
  void check_routes(const config& cfg) {
    std::set<std::string> taken{"/", "/health", "/ready", "/metrics", "/tributary.js", "/dashboard.js", "/dashboard.css", "/dashboard-format.js", "/dashboard-charts.js", "/connection/websocket", cfg.server.ws_path};
    for (auto& v : cfg.views) {
      if (v.route.empty()) continue;
      if (v.route.rfind("/api/v1/", 0) == 0 || !taken.insert(v.route).second)
        error(v.where, "views." + v.name + ".route", "'" + v.route + "' is already served (built-in routes and /api/v1/* are reserved)");
    }
    for (auto& d : cfg.dialects)
      if (!d.path.empty() && (d.path.rfind("/api/v1/", 0) == 0 || d.path == "/sse" || !taken.insert(d.path).second))
        error(d.where, "dialects." + d.name + ".path", "'" + d.path + "' is already served (built-in routes, view routes and /api/v1/* are reserved)");
  }

  void check_feed_sources(config& cfg) {
    std::vector<std::string> names;
    for (auto& p : cfg.plugins) names.push_back(p.name);
    for (auto& f : cfg.feeds) {
      auto sp = f.pos_of("sources");
      std::vector<std::string> usable;
      for (auto& s : f.sources) {
        auto* p = cfg.plugin(s);
        if (!p) {
          std::string msg = "source '" + s + "' is not a configured instance (no [plugins." + s + "])";
          if (auto c = closest(s, names)) msg += " (did you mean '" + *c + "'?)";
          error(sp, "feeds." + f.id + ".sources", msg);
        } else if (!p->enabled) {
          warn(sp, "feeds." + f.id + ".sources",
               "source '" + s + "' is skipped: its instance is disabled (see plugins." + s + ")");
        } else {
          usable.push_back(s);
        }
      }
      if (usable.empty() && !f.sources.empty())
        warn(sp, "feeds." + f.id, "no enabled source left: feed '" + f.id + "' will not run");
      f.sources = std::move(usable);
    }
  }

  fs::path file_;
  const env_lookup& env_;
  redactor* secrets_;
  std::vector<diagnostic> diags_;
};

}  // namespace

config_result parse_config(std::string_view text, const fs::path& file, const env_lookup& env,
                           redactor* secrets) {
  return parser(file, env, secrets).run(text);
}

bool same_instance(const plugin_instance_config& a, const plugin_instance_config& b) {
  auto windows = [](const plugin_instance_config& p) {
    std::vector<std::tuple<double, int64_t, double>> w;
    if (p.rate_limit)
      for (auto& r : *p.rate_limit) w.emplace_back(r.requests, r.per.count(), r.burst);
    return std::make_pair(p.rate_limit.has_value(), w);
  };
  return a.name == b.name && a.plugin == b.plugin && a.base_url == b.base_url && a.timeout == b.timeout && windows(a) == windows(b) &&
         a.shared_budget == b.shared_budget && a.retries == b.retries && a.backoff == b.backoff &&
         a.circuit_failures == b.circuit_failures && a.circuit_cooldown == b.circuit_cooldown && a.settings == b.settings &&
         a.enabled == b.enabled && a.isolation == b.isolation && a.call_timeout == b.call_timeout && a.cpu_limit == b.cpu_limit &&
         a.memory_limit == b.memory_limit && a.command == b.command && a.workdir == b.workdir;
}

bool same_feed(const feed_config& a, const feed_config& b) {
  auto schedule = [](const feed_config& f) { return f.schedule ? f.schedule->text() : std::string(); };
  return a.id == b.id && a.kind == b.kind && a.subjects == b.subjects && a.every == b.every && a.jitter == b.jitter &&
         schedule(a) == schedule(b) && a.align == b.align && a.stream == b.stream && a.sources == b.sources && a.adapt == b.adapt &&
         a.max_every == b.max_every && a.demand == b.demand && a.demand_linger == b.demand_linger;
}

config_result load_config(const fs::path& file, const env_lookup& env, redactor* secrets) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    config_result r;
    r.diagnostics.push_back({diagnostic::level::error, {file.string(), 0, 0}, "",
                             "cannot read the config file"});
    return r;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str(), file, env, secrets);
}

}  // namespace tributary
