#include "app/source_factory.hpp"

#include <spdlog/spdlog.h>

#include "plugin/abi_backend.hpp"
#include "plugin/process_backend.hpp"
#include "ingest/limits/circuit_breaker.hpp"
#include "ingest/limits/rate_budget.hpp"
#include "ingest/runtime.hpp"
#include "obs/metrics.hpp"
#include "util/clock.hpp"
#include "util/redactor.hpp"

namespace tributary {

source_factory::source_factory(std::vector<std::filesystem::path> plugin_dirs, redactor& secrets, metrics& m,
                               const clock_source& clock, std::shared_ptr<spdlog::logger> log, report_error error)
    : dirs_(std::move(plugin_dirs)), secrets_(secrets), m_(m), clock_(clock), log_(std::move(log)), error_(std::move(error)) {}

std::optional<std::filesystem::path> source_factory::library_file(const plugin_instance_config& pc) {
  auto file = find_plugin(dirs_, pc.plugin);
  if (!file) {
    std::string dirs;
    for (auto& d : dirs_) dirs += (dirs.empty() ? "" : ", ") + d.string();
    error_(pc.where, "plugins." + pc.name, "plugin '" + pc.plugin + "' not found: no lib" + pc.plugin + ".so in " + dirs);
  }
  return file;
}

std::shared_ptr<plugin_library> source_factory::library(const plugin_instance_config& pc) {
  if (auto it = libs_.find(pc.plugin); it != libs_.end()) return it->second;
  std::string path = "plugins." + pc.name;
  auto file = library_file(pc);
  if (!file) return nullptr;
  auto loaded = plugin_library::load(*file);
  if (auto* e = std::get_if<std::string>(&loaded)) {
    error_(pc.where, path, *e);
    return nullptr;
  }
  return libs_[pc.plugin] = std::get<std::shared_ptr<plugin_library>>(loaded);
}

namespace {
// What to mask of a secret setting: a URL's password (or its user, when it has no password:
// a token in the user part), nothing of a URL without credentials, else the whole value.
std::string credentials_of(const std::string& value) {
  auto scheme = value.find("://");
  if (scheme == std::string::npos) return value;
  auto host_start = scheme + 3;
  auto at = value.find('@', host_start);
  auto path = value.find_first_of("/?#", host_start);
  if (at == std::string::npos || (path != std::string::npos && at > path)) return {};
  auto userinfo = value.substr(host_start, at - host_start);
  auto colon = userinfo.find(':');
  return colon == std::string::npos ? userinfo : userinfo.substr(colon + 1);
}
}  // namespace

// The secrets the manifest names are masked from now on; the settings match its schema.
bool source_factory::check_settings(const plugin_instance_config& pc, const plugin_manifest& mf) {
  std::string path = "plugins." + pc.name;
  for (auto& s : mf.secrets)
    if (pc.settings.contains(s) && pc.settings[s].is_string()) {
      auto value = credentials_of(pc.settings[s].get<std::string>());
      if (!value.empty() && !secrets_.add(value))
        error_(pc.where, path + "." + s, "a secret this short cannot be masked safely in logs; use at least " +
                                             std::to_string(redactor::min_length) + " characters");
    }
  bool ok = true;
  for (auto& [kp, msg] : validate_settings(mf.settings_schema, pc.settings)) {
    auto top = kp.substr(0, kp.find_first_of(".["));
    auto it = pc.setting_pos.find(top);
    error_(it != pc.setting_pos.end() ? it->second : pc.where, kp.empty() ? path : path + "." + kp, msg);
    ok = false;
  }
  return ok;
}

// Its rate budget, retries and circuit breaker (whose transitions are counted and logged).
void source_factory::attach_limits(source_runtime& s, const plugin_instance_config& pc, const plugin_manifest& mf) {
  s.budget = std::make_unique<rate_budget>(pc.rate_limit.value_or(std::vector{mf.default_rate_limit}), clock_.now_ms());
  s.retries = pc.retries;
  s.backoff = pc.backoff;
  s.breaker = std::make_unique<circuit_breaker>(
      pc.circuit_failures, pc.circuit_cooldown.count(),
      [&m = m_, logger = log_, who = pc.name](circuit_breaker::state from, circuit_breaker::state to) {
        m.add("tributary_circuit_transitions_total", {{"source", who}, {"to", std::string(circuit_breaker::name(to))}});
        m.set("tributary_circuit_state", {{"source", who}}, static_cast<double>(to));
        auto lvl = to == circuit_breaker::state::open ? spdlog::level::warn : spdlog::level::info;
        logger->log(lvl, "source {}: circuit {} -> {}", who, circuit_breaker::name(from), circuit_breaker::name(to));
      });
  m_.set("tributary_circuit_state", {{"source", pc.name}}, 0);
}

// Where the instance's calls go: its library in this process, or a child process running the
// library (isolation = "process") or the exec plugin's command.
std::unique_ptr<plugin_backend> source_factory::backend(const plugin_instance_config& pc) {
  if (pc.isolation == plugin_isolation::none) {
    auto lib = library(pc);
    return lib ? std::make_unique<abi_backend>(std::move(lib)) : nullptr;
  }
  process_options o;
  o.exec = pc.exec();
  if (o.exec) o.spin_us = 0;  // an interpreter's answer takes longer than any worthwhile poll
  o.call_timeout = pc.call_timeout;
  o.cpu_limit = pc.cpu_limit;
  o.child.memory_limit = pc.memory_limit;
  if (o.exec) {
    o.child.argv = pc.command;
    o.child.cwd = pc.workdir;
  } else {
    auto file = library_file(pc);
    if (!file) return nullptr;
    o.child.argv = {plugin_host_program(), "plugin-host", file->string()};
  }
  auto started = process_backend::start(std::move(o));
  if (auto* why = std::get_if<std::string>(&started)) {
    error_(pc.where, "plugins." + pc.name, (pc.exec() ? "exec plugin: " : "plugin '" + pc.plugin + "' in its own process: ") + *why);
    return nullptr;
  }
  return std::move(std::get<std::unique_ptr<process_backend>>(started));
}

std::unique_ptr<source_runtime> source_factory::make(const plugin_instance_config& pc) {
  auto be = backend(pc);
  if (!be) return nullptr;
  // Settings its schema refuses are errors (so nothing will run), but the instance is still
  // made with the plugin's defaults, to check the feeds' subjects in the same pass.
  bool settings_ok = check_settings(pc, be->manifest());
  const auto mf = be->manifest();
  plugin_services svc;
  svc.log = [logger = log_, who = pc.name](int level, std::string_view msg) {
    logger->log(static_cast<spdlog::level::level_enum>(std::clamp(level, 0, 4)), "[{}] {}", who, msg);
  };
  svc.clock = &clock_;
  svc.count = [&m = m_, who = pc.name](std::string_view name, double v) {
    m.add("tributary_plugin_counter_total", {{"source", who}, {"name", std::string(name)}}, v);
  };
  auto inst = plugin_instance::create(std::move(be), pc.name, settings_ok ? pc.settings : nlohmann::json::object(), std::move(svc));
  if (auto* e = std::get_if<fetch_error>(&inst)) {
    if (settings_ok) error_(pc.where, "plugins." + pc.name, "plugin '" + mf.name + "' rejected its settings: " + e->message);
    return nullptr;  // with bad settings and no defaults to fall back on, its subjects wait until it is fixed
  }
  auto s = std::make_unique<source_runtime>();
  s->name = pc.name;
  s->plugin = std::shared_ptr<plugin_instance>(std::move(std::get<std::unique_ptr<plugin_instance>>(inst)));
  if (!pc.kinds.is_null() && !declare_instance_kinds(pc, *s->plugin)) return nullptr;
  s->base_url = pc.base_url.value_or(mf.default_base_url);
  s->timeout = pc.timeout.value_or(mf.default_timeout);
  attach_limits(*s, pc, mf);
  if (s->base_url.empty() && s->plugin->polls())
    error_(pc.where, "plugins." + pc.name + ".base_url", "plugin '" + pc.plugin + "' has no default base_url; set one");
  return s;
}

// [plugins.X] kinds: declared for this process as a manifest's are, and served by this instance
// (a push source maps any message to the feed's kind; the host holds the record to the kind's
// fields). False, with an error, when a kind is malformed or clashes with another definition.
bool source_factory::declare_instance_kinds(const plugin_instance_config& pc, plugin_instance& inst) {
  auto parsed = vocabulary::parse_declared_kinds(pc.kinds.dump(), "instance " + pc.name);
  if (auto* why = std::get_if<std::string>(&parsed)) {
    error_(pc.kinds_where, "plugins." + pc.name + ".kinds", *why);
    return false;
  }
  std::vector<std::string> names;
  for (auto& k : std::get<std::vector<vocabulary::declared_kind>>(parsed)) {
    if (auto why = vocabulary::declare(k)) {
      error_(pc.kinds_where, "plugins." + pc.name + ".kinds", *why);
      return false;
    }
    names.push_back(k.name);
  }
  inst.also_serves(std::move(names));
  return true;
}

}  // namespace tributary
