#include "plugin/plugin.hpp"

#include <algorithm>
#include <cstdio>

#include "util/duration.hpp"

namespace tributary {

using json = nlohmann::json;

std::string_view name_of(error_class c) {
  switch (c) {
    case error_class::retryable: return "retryable";
    case error_class::rate_limited: return "rate_limited";
    case error_class::auth: return "auth";
    case error_class::bad_request: return "bad_request";
    case error_class::bad_data: return "bad_data";
    case error_class::internal: return "internal";
    case error_class::plugin_crashed: return "plugin_crashed";
    case error_class::plugin_timeout: return "plugin_timeout";
  }
  return "internal";
}

std::string fetch_error::str() const {
  std::string s(name_of(cls));
  s += ": ";
  if (!subject.empty()) s += subject + ": ";
  s += message;
  return s;
}

json plugin_manifest::declared_json() const {
  json out = json::object();
  for (auto& k : declared_kinds) {
    json fields = json::object();
    for (auto& [n, t] : k.fields)
      fields[n] = t == vocabulary::field_type::number ? "number" : t == vocabulary::field_type::string ? "string" : "bool";
    out[k.name] = {{"fields", fields}, {"required", k.required}};
  }
  return out;
}

json plugin_manifest::modes_json() const {
  json m = json::array();
  if (polls) m.push_back("poll");
  if (streams) m.push_back("stream");
  return m;
}

json plugin_manifest::to_json() const {
  return json{{"name", name},
              {"version", version},
              {"description", description},
              {"kinds", kinds},
              {"secrets", secrets},
              {"secret_envs", secret_envs},
              {"default_base_url", default_base_url},
              {"default_timeout", format_duration(default_timeout)},
              {"default_rate_limit",
               {{"requests", default_rate_limit.requests},
                {"per", format_duration(default_rate_limit.per)},
                {"burst", default_rate_limit.burst}}},
              {"settings_schema", settings_schema},
              {"budget_header", budget_header.name.empty()
                                    ? json(nullptr)
                                    : json{{"name", budget_header.name},
                                           {"counts", budget_header.counts_used ? "used" : "remaining"},
                                           {"window", budget_header.window}}},
              {"declared_kinds", declared_json()},
              {"modes", modes_json()},
              {"abi", std::to_string(abi_major) + "." + std::to_string(abi_minor)},
              {"path", path.string()}};
}


namespace {

std::vector<std::string> strings(const json& j, const char* key) {
  std::vector<std::string> out;
  if (auto it = j.find(key); it != j.end() && it->is_array())
    for (auto& v : *it)
      if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

std::string text(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::optional<std::string> read_limits(const json& j, plugin_manifest& mf) {
  if (auto t = text(j, "default_timeout"); !t.empty()) {
    auto d = parse_duration(t);
    if (!d || d->count() <= 0) return "default_timeout '" + t + "' is not a duration";
    mf.default_timeout = *d;
  }
  auto rl = j.find("default_rate_limit");
  if (rl == j.end() || rl->is_null()) return std::nullopt;
  if (!rl->is_object()) return "default_rate_limit must be an object";
  auto per = parse_duration(text(*rl, "per"));
  auto req = rl->find("requests");
  if (!per || per->count() <= 0 || req == rl->end() || !req->is_number() || req->get<double>() <= 0)
    return "default_rate_limit needs requests > 0 and a duration `per`";
  mf.default_rate_limit.requests = req->get<double>();
  mf.default_rate_limit.per = *per;
  auto burst = rl->find("burst");
  mf.default_rate_limit.burst = burst != rl->end() && burst->is_number() ? burst->get<double>() : mf.default_rate_limit.requests;
  return std::nullopt;
}

std::optional<std::string> read_budget_header(const json& j, plugin_manifest& mf) {
  auto bh = j.find("budget_header");
  if (bh == j.end() || bh->is_null()) return std::nullopt;
  if (!bh->is_object() || text(*bh, "name").empty()) return "budget_header must be null or {name, counts, window}";
  mf.budget_header.name = text(*bh, "name");
  mf.budget_header.counts_used = text(*bh, "counts") != "remaining";
  auto w = bh->find("window");
  mf.budget_header.window = w != bh->end() && w->is_number_unsigned() ? w->get<size_t>() : 0;
  return std::nullopt;
}

std::optional<std::string> read_kinds_and_modes(const json& j, plugin_manifest& mf) {
  if (auto dk = j.find("declared_kinds"); dk != j.end() && dk->is_object() && !dk->empty()) {
    auto parsed = vocabulary::parse_declared_kinds(dk->dump(), mf.name);
    if (auto* why = std::get_if<std::string>(&parsed)) return *why;
    mf.declared_kinds = std::get<std::vector<vocabulary::declared_kind>>(parsed);
    for (auto& k : mf.declared_kinds)
      if (auto why = vocabulary::declare(k)) return *why;
  }
  if (auto modes = strings(j, "modes"); !modes.empty()) {
    mf.polls = std::find(modes.begin(), modes.end(), "poll") != modes.end();
    mf.streams = std::find(modes.begin(), modes.end(), "stream") != modes.end();
  }
  for (auto& k : mf.kinds)
    if (!vocabulary::known_kind(k)) return "manifest declares unknown record kind '" + k + "'";
  return std::nullopt;
}

}  // namespace

std::variant<plugin_manifest, std::string> manifest_from_json(const json& j) {
  if (!j.is_object()) return std::string("the manifest is not a JSON object");
  plugin_manifest mf;
  mf.name = text(j, "name");
  if (mf.name.empty()) return std::string("the manifest has no name");
  mf.version = text(j, "version");
  mf.description = text(j, "description");
  mf.kinds = strings(j, "kinds");
  mf.secrets = strings(j, "secrets");
  mf.secret_envs = strings(j, "secret_envs");
  mf.default_base_url = text(j, "default_base_url");
  mf.settings_schema = j.value("settings_schema", json::object());
  if (!mf.settings_schema.is_object()) return std::string("the manifest's settings_schema is not an object");
  auto abi = text(j, "abi");
  if (sscanf(abi.c_str(), "%u.%u", &mf.abi_major, &mf.abi_minor) != 2) mf.abi_major = TRIB_ABI_MAJOR, mf.abi_minor = TRIB_ABI_MINOR;
  std::optional<std::string> why = read_limits(j, mf);
  if (!why) why = read_budget_header(j, mf);
  if (!why) why = read_kinds_and_modes(j, mf);
  if (why) return "manifest: " + *why;
  return mf;
}

}  // namespace tributary
