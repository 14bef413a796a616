#include "config/render.hpp"

#include <sstream>

#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include "config/config.hpp"
#include "config/server_settings.hpp"
#include "util/byte_size.hpp"
#include "util/duration.hpp"

namespace tributary {

namespace {

toml::array strings(const std::vector<std::string>& v) {
  toml::array a;
  for (auto& s : v) a.push_back(s);
  return a;
}


// A plugin's settings, JSON as the host passes them, back into TOML.
void put_json(toml::table& t, const std::string& key, const nlohmann::json& j);

toml::array json_array(const nlohmann::json& j) {
  toml::array a;
  for (auto& v : j) {
    if (v.is_string()) a.push_back(v.get<std::string>());
    else if (v.is_boolean()) a.push_back(v.get<bool>());
    else if (v.is_number_integer()) a.push_back(v.get<int64_t>());
    else if (v.is_number()) a.push_back(v.get<double>());
    else if (v.is_array()) a.push_back(json_array(v));
    else if (v.is_object()) {
      toml::table sub;
      for (auto& [k, x] : v.items()) put_json(sub, k, x);
      a.push_back(std::move(sub));
    }
  }
  return a;
}

void put_json(toml::table& t, const std::string& key, const nlohmann::json& j) {
  if (j.is_string()) t.insert_or_assign(key, j.get<std::string>());
  else if (j.is_boolean()) t.insert_or_assign(key, j.get<bool>());
  else if (j.is_number_integer()) t.insert_or_assign(key, j.get<int64_t>());
  else if (j.is_number()) t.insert_or_assign(key, j.get<double>());
  else if (j.is_array()) t.insert_or_assign(key, json_array(j));
  else if (j.is_object()) {
    toml::table sub;
    for (auto& [k, v] : j.items()) put_json(sub, k, v);
    sub.is_inline(true);
    t.insert_or_assign(key, std::move(sub));
  }
}

toml::table host_table(const config& c) {
  toml::array dirs;
  for (auto& d : c.host.plugin_dirs) dirs.push_back(d.string());
  return toml::table{{"plugin_dirs", dirs}, {"log_level", c.host.log_level}, {"log_format", name_of(c.host.log_format)}};
}

// A setting's value as TOML.
void put_value(toml::table& t, std::string_view key, size_t v) { t.insert_or_assign(key, static_cast<int64_t>(v)); }
void put_value(toml::table& t, std::string_view key, double v) { t.insert_or_assign(key, v); }
void put_value(toml::table& t, std::string_view key, millis v) { t.insert_or_assign(key, format_duration(v)); }
void put_value(toml::table& t, std::string_view key, bool v) { t.insert_or_assign(key, v); }
void put_value(toml::table& t, std::string_view key, slow_policy v) { t.insert_or_assign(key, name_of(v)); }
void put_value(toml::table& t, std::string_view key, auth_mode v) { t.insert_or_assign(key, name_of(v)); }
void put_value(toml::table& t, std::string_view key, compression_mode v) { t.insert_or_assign(key, name_of(v)); }
void put_value(toml::table& t, std::string_view key, const std::string& v) { t.insert_or_assign(key, v); }

toml::table server_table(const config& c) {
  auto s = c.server;  // a copy: the settings table reaches into it by reference
  toml::array protocols;
  for (auto w : s.protocols) protocols.push_back(name_of(w));
  toml::table top{{"allowed_origins", strings(s.allowed_origins)}, {"protocols", std::move(protocols)}};
  toml::table auth{{"jwt_secret", s.auth.jwt_secret},
                   {"jwt_public_key", s.auth.jwt_public_key_file},
                   {"issuer", s.auth.issuer},
                   {"audience", s.auth.audience},
                   {"user_claim", s.auth.user_claim},
                   {"jwks_url", s.auth.jwks_url},
                   {"jwks_refresh", format_duration(s.auth.jwks_refresh)},
                   {"public", strings(s.auth.public_patterns)},
                   {"admin_token", s.admin_token}};
  toml::table limits{{"trusted_proxies", strings(s.limits.trusted_proxies)}};
  for (const auto& set : server_settings()) {
    auto [in, key] = split_key(set.key);
    auto& t = in == "auth" ? auth : in == "limits" ? limits : top;
    std::visit([&](auto at) { put_value(t, key, at(s)); }, set.at);
  }
  if (!s.history_rules.empty()) {
    toml::array rules;
    for (const auto& r : s.history_rules)
      rules.push_back(toml::table{{"topics", strings(r.topics)}, {"size", int64_t(r.size)}, {"ttl", format_duration(r.ttl)}});
    top.insert_or_assign("history", std::move(rules));
  }
  top.insert_or_assign("auth", std::move(auth));
  top.insert_or_assign("limits", std::move(limits));
  return top;
}

toml::table cluster_table(const config& c) {
  const auto& k = c.cluster;
  return toml::table{{"mode", name_of(k.mode)},
                     {"redis_url", k.redis_url},
                     {"name", k.name},
                     {"lease", format_duration(k.lease)},
                     {"renew_every", format_duration(k.renew_every)},
                     {"cache_ttl", format_duration(k.cache_ttl)},
                     {"buffer", static_cast<int64_t>(k.buffer)},
                     {"on_redis_down", name_of(k.on_redis_down)}};
}

toml::table plugin_table(const plugin_instance_config& p) {
  toml::table t{{"plugin", p.plugin},
                {"retries", p.retries},
                {"backoff", format_duration(p.backoff)},
                {"shared_budget", p.shared_budget}};
  toml::table circuit{{"failures", p.circuit_failures}, {"cooldown", format_duration(p.circuit_cooldown)}};
  circuit.is_inline(true);
  t.insert("circuit", std::move(circuit));
  if (!p.enabled) t.insert("enabled", false);
  if (p.exec()) t.insert("command", strings(p.command));
  if (p.isolation == plugin_isolation::process) {
    if (!p.exec()) t.insert("isolation", name_of(p.isolation));
    t.insert("call_timeout", format_duration(p.call_timeout));
    if (p.cpu_limit.count() > 0) t.insert("cpu_limit", format_duration(p.cpu_limit));
    if (p.memory_limit > 0) t.insert("memory_limit", format_bytes(p.memory_limit));
  }
  if (p.base_url) t.insert("base_url", *p.base_url);
  if (p.timeout) t.insert("timeout", format_duration(*p.timeout));
  if (p.rate_limit) {
    toml::array windows;
    for (auto& w : *p.rate_limit) {
      toml::table r{{"requests", w.requests}, {"per", format_duration(w.per)}, {"burst", w.burst}};
      windows.push_back(std::move(r));
    }
    t.insert("rate_limit", std::move(windows));
  }
  for (auto& [k, v] : p.settings.items()) put_json(t, k, v);
  return t;
}

toml::table feed_table(const feed_config& f) {
  toml::table t{{"kind", f.kind}, {"subjects", strings(f.subjects)}, {"sources", strings(f.sources)},
                {"mode", f.stream ? "stream" : "poll"}, {"jitter", format_duration(f.jitter)}};
  if (f.schedule) t.insert("schedule", f.schedule->text());
  else if (f.every.count() > 0) t.insert("every", format_duration(f.every));
  if (f.align) t.insert("align", true);
  if (f.adapt) t.insert("adapt", true), t.insert("max_every", format_duration(f.max_every));
  if (f.demand == feed_config::demand_mode::subscribed)
    t.insert("demand", "subscribed"), t.insert("demand_linger", format_duration(f.demand_linger));
  return t;
}

toml::table view_table(const view_config& v) {
  toml::table fields;
  for (auto& f : v.fields) fields.insert(f.out, f.topic + ":" + f.field);
  fields.is_inline(true);
  toml::table t{{"fields", fields}};
  if (!v.route.empty()) t.insert("route", v.route);
  return t;
}

}  // namespace

std::string render_toml(const config& c) {
  toml::table root{{"host", host_table(c)}, {"server", server_table(c)}, {"cluster", cluster_table(c)},
                   {"stream", toml::table{{"enabled", c.stream.enabled}, {"maxlen", static_cast<int64_t>(c.stream.maxlen)}}}};
  toml::table plugins, feeds, views;
  for (auto& p : c.plugins) plugins.insert(p.name, plugin_table(p));
  for (auto& f : c.feeds)
    if (!f.sources.empty()) feeds.insert(f.id, feed_table(f));  // a feed with no enabled source does not run
  for (auto& v : c.views) views.insert(v.name, view_table(v));
  root.insert("plugins", std::move(plugins));
  root.insert("feeds", std::move(feeds));
  if (!views.empty()) root.insert("views", std::move(views));
  std::ostringstream out;
  out << "# The effective config of " << c.file.string() << ": defaults filled in, secrets masked,\n# feeds without an enabled source left out.\n" << root << "\n";
  return out.str();
}

}  // namespace tributary
