// `tributary check`, `plugins` and `config sample`: look at a config and the plugins found.
#include <nlohmann/json.hpp>

#include <iostream>

#include "cli/commands.hpp"
#include "cli/sample_config.hpp"
#include "config/config.hpp"
#include "config/render.hpp"
#include "app/request_plan.hpp"
#include "plugin/plugin.hpp"
#include "util/redactor.hpp"

namespace tributary::cli {

// Prints what would overrun a budget (errors for primaries, warnings for fallbacks); the errors.
static size_t report_spending(const request_plan& plan, const context& cx) {
  std::vector<diagnostic> spending;
  report_overspending(plan, spending);
  print(spending, *cx.secrets);
  return errors(spending);
}

int check_command::operator()(const context& cx) const {
  std::shared_ptr<spdlog::logger> log;
  auto h = load(cx, config, {}, log, plugin_dirs);
  if (!h) return kExitConfig;
  if (print) {
    std::cout << cx.secrets->scrub(render_toml(h->effective_config()));
    return kExitOk;
  }
  auto plan = h->request_plan();
  size_t overruns = report_spending(plan, cx);
  std::cout << cx.secrets->scrub(plan.table());
  if (overruns > 0) {
    std::cerr << config.string() << ": " << overruns << " error(s)\n";
    return kExitConfig;
  }
  std::cout << "ok: " << config.string() << ": " << h->cfg().plugins.size() << " plugin instance(s), " << h->cfg().feeds.size()
            << " feed(s)\n";
  return kExitOk;
}

int plan_command::operator()(const context& cx) const {
  std::shared_ptr<spdlog::logger> log;
  auto h = load(cx, config, {}, log, plugin_dirs);
  if (!h) return kExitConfig;
  auto plan = h->request_plan();
  size_t overruns = report_spending(plan, cx);
  if (json) std::cout << cx.secrets->scrub(plan.to_json().dump()) << "\n";
  else std::cout << cx.secrets->scrub(plan.table());
  return overruns > 0 ? kExitConfig : kExitOk;
}

int sample_command::operator()(const context&) const {
  std::vector<fs::path> dirs = plugin_dirs;
  add_installed_plugins(dirs);
  if (dirs.empty()) dirs.push_back(fs::absolute("build/plugins"));
  std::vector<plugin_manifest> found;
  for (const auto& d : discover_plugins(dirs)) {
    auto lib = plugin_library::load(d.path);
    if (auto* l = std::get_if<std::shared_ptr<plugin_library>>(&lib)) found.push_back((*l)->manifest());
    else std::cerr << "warning: " << std::get<std::string>(lib) << "\n";
  }
  std::cout << sample_config(found, dirs);
  return found.empty() ? kExitConfig : kExitOk;
}

namespace {

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

void describe(const plugin_manifest& m) {
  std::cout << m.name << " " << m.version << " (ABI " << m.abi_major << "." << m.abi_minor << ")  " << m.description
            << "\n  kinds: " << joined(m.kinds) << "\n  modes: " << (m.polls ? (m.streams ? "poll, stream" : "poll") : "stream")
            << "\n  path: " << m.path.string() << "\n  base_url: " << m.default_base_url
            << "\n  timeout: " << format_duration(m.default_timeout) << "\n  rate_limit: " << m.default_rate_limit.requests
            << " per " << format_duration(m.default_rate_limit.per) << ", burst " << m.default_rate_limit.burst << "\n";
  auto declared = m.declared_json();
  for (auto& [name, spec] : declared.items()) std::cout << "  declares kind " << name << ": " << spec.dump() << "\n";
  if (!m.secret_envs.empty()) std::cout << "  secrets from: " << joined(m.secret_envs) << "\n";
}

}  // namespace

int plugins_command::operator()(const context& cx) const {
  std::vector<fs::path> dirs = plugin_dirs;
  // No config given and none found: the install's own plugins are listed all the same.
  if (dirs.empty() && (config_given || fs::exists(config))) {
    auto res = load_config(config, process_env(), cx.secrets.get());
    if (!res.ok()) {
      print(res.diagnostics, *cx.secrets);
      return kExitConfig;
    }
    dirs = res.cfg->host.plugin_dirs;
  }
  add_installed_plugins(dirs);
  int bad = 0;
  auto found = discover_plugins(dirs);
  if (found.empty()) std::cerr << "no plugins found\n";
  for (const auto& d : found) {
    auto lib = plugin_library::load(d.path);
    if (auto* e = std::get_if<std::string>(&lib)) {
      std::cerr << "error: " << *e << "\n";
      ++bad;
      continue;
    }
    const auto& m = std::get<std::shared_ptr<plugin_library>>(lib)->manifest();
    if (json) std::cout << m.to_json().dump() << "\n";
    else describe(m);
  }
  return bad ? kExitConfig : kExitOk;
}

}  // namespace tributary::cli
