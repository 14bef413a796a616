// The `tributary` command: run, check, plugins, fetch, config sample, test-case. This file only
// binds the command line to one command type per subcommand (commands.hpp) and runs the one
// given.
#include <CLI/CLI.hpp>

#include <functional>

#include "cli/commands.hpp"
#include "util/redactor.hpp"

using namespace tributary;
using namespace tributary::cli;

namespace {

const char* kConfigHelp =
    "config file (default: config/tributary.toml, else the install's etc/tributary/tributary.toml, else "
    "/etc/tributary/tributary.toml)";

void plugin_dir_option(CLI::App* c, std::vector<fs::path>& dirs, const char* help = "extra plugin directory searched first") {
  c->add_option("--plugin-dir", dirs, help)->allow_extra_args(false);
}

CLI::App* bind(CLI::App& app, run_command& r) {
  auto* c = app.add_subcommand("run", "Load the config and serve: fetch on schedule, HTTP API and WebSocket");
  c->add_option("-c,--config", r.config, kConfigHelp);
  auto* replay = c->add_option("--replay", r.replay, "serve every HTTP request from the cassettes in DIR")->check(CLI::ExistingDirectory);
  auto* record = c->add_option("--record", r.record, "do real requests and write one cassette per exchange into DIR");
  replay->excludes(record);
  c->add_option("--listen", r.listen, "override [server] listen (HOST:PORT; port 0 picks one)");
  c->add_option("--port-file", r.port_file, "write the bound port to FILE once listening");
  c->add_flag("--watch", r.watch, "reload the config when its file changes (as SIGHUP does)");
  plugin_dir_option(c, r.plugin_dirs);
  return c;
}

CLI::App* bind(CLI::App& app, check_command& k) {
  auto* c = app.add_subcommand("check", "Validate a config and its plugins; print every problem");
  c->add_option("-c,--config", k.config, "config file (default: as for run)");
  c->add_flag("--print", k.print, "print the effective config (defaults filled in, secrets masked) as TOML");
  plugin_dir_option(c, k.plugin_dirs);
  return c;
}

CLI::App* bind(CLI::App& app, plan_command& p) {
  auto* c = app.add_subcommand("plan", "Print what the feeds will spend of each source's rate budget, per window");
  c->add_option("-c,--config", p.config, "config file (default: as for run)");
  c->add_flag("--json", p.json, "print the plan as one JSON object");
  plugin_dir_option(c, p.plugin_dirs);
  return c;
}

CLI::App* bind(CLI::App& app, plugins_command& p) {
  auto* c = app.add_subcommand("plugins", "List the plugins found in plugin_dirs with their manifests");
  c->add_option("-c,--config", p.config, "config file whose [host] plugin_dirs to search");
  plugin_dir_option(c, p.plugin_dirs, "plugin directory (instead of a config's)");
  c->add_flag("--json", p.json, "print manifests as JSON lines");
  return c;
}

CLI::App* bind(CLI::App& app, fetch_command& f) {
  auto* c = app.add_subcommand("fetch", "Run one feed once and print its records as JSON lines");
  c->add_option("-c,--config", f.config, "config file (default: as for run)");
  c->add_option("--feed", f.feed, "feed id")->required();
  auto* replay = c->add_option("--replay", f.replay, "serve HTTP from the cassettes in DIR")->check(CLI::ExistingDirectory);
  auto* record = c->add_option("--record", f.record, "write one cassette per exchange into DIR");
  replay->excludes(record);
  plugin_dir_option(c, f.plugin_dirs);
  return c;
}

CLI::App* bind(CLI::App& app, sample_command& s) {
  auto* config = app.add_subcommand("config", "Config helpers");
  config->require_subcommand(1);
  auto* c = config->add_subcommand("sample", "Print a commented config made from the plugins found");
  plugin_dir_option(c, s.plugin_dirs, "plugin directory (default: the install's, else build/plugins)");
  return c;
}

CLI::App* bind(CLI::App& app, test_case_command& t) {
  auto* c = app.add_subcommand("test-case", "Run plugin golden cases (case.toml, cassettes/, expected.jsonl)");
  c->add_option("cases", t.cases, "case directories")->required()->check(CLI::ExistingDirectory);
  plugin_dir_option(c, t.plugin_dirs, "where the plugin under test is");
  return c;
}

CLI::App* bind(CLI::App& app, plugin_host_command& p) {
  auto* c = app.add_subcommand("plugin-host", "Serve one plugin library on stdin/stdout (started by the host for isolation = \"process\")");
  c->add_option("library", p.library, "the plugin's lib<name>.so")->required();
  c->group("");  // not for people: the host starts it
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Tributary: a plugin-driven data connector"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "tributary 0.1.0");
  context cx{std::make_shared<redactor>(), {}};
  app.add_option("--log-level", cx.log.level, "trace, debug, info, warn, error or off (else $TRIBUTARY_LOG_LEVEL, else [host] log_level)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  app.add_option("--log-format", cx.log.format, "text or json (else $TRIBUTARY_LOG_FORMAT, else [host] log_format)")
      ->check(CLI::IsMember({"text", "json"}));

  run_command run{default_config()};
  check_command check{default_config()};
  plan_command plan{default_config()};
  plugins_command plugins{default_config()};
  fetch_command fetch{default_config()};
  sample_command sample;
  test_case_command test_case;
  plugin_host_command plugin_host;
  std::vector<std::pair<CLI::App*, std::function<int()>>> commands{
      {bind(app, run), [&] { return run(cx); }},
      {bind(app, check), [&] { return check(cx); }},
      {bind(app, plan), [&] { return plan(cx); }},
      {bind(app, plugins), [&] { return plugins(cx); }},
      {bind(app, fetch), [&] { return fetch(cx); }},
      {bind(app, sample), [&] { return sample(cx); }},
      {bind(app, test_case), [&] { return test_case(cx); }},
      {bind(app, plugin_host), [&] { return plugin_host(cx); }},
  };
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitConfig;  // --help and --version are not errors
  }
  plugins.config_given = commands[3].first->get_option("--config")->count() > 0;
  for (auto& [sub, go] : commands)
    if (sub->parsed()) return go();
  return kExitConfig;
}
