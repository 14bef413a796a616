// The `tributary` command: run, check, plugins, fetch, config sample, test-case.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <fstream>
#include <iostream>
#include <set>
#include <thread>

#include "app/host.hpp"
#include "cli/sample_config.hpp"
#include "cli/test_case.hpp"
#include "config/config.hpp"
#include "config/render.hpp"
#include "plugin/plugin.hpp"
#include "util/log.hpp"
#include "util/redactor.hpp"

using namespace tributary;
namespace fs = std::filesystem;

namespace {

// Exit codes (docs/operations.md): the same failure always gives the same code.
constexpr int kExitOk = 0;
constexpr int kExitConfig = 1;   // a config or usage error: nothing was run
constexpr int kExitFailed = 2;   // fetch or test-case ran and failed
constexpr int kExitRuntime = 3;  // a failure while running (cannot listen, ...)

std::atomic<bool> g_stop{false}, g_reload{false};
void on_signal(int) { g_stop = true; }
void on_hup(int) { g_reload = true; }

void print(const std::vector<diagnostic>& diags, const redactor& secrets) {
  for (const auto& d : diags) std::cerr << secrets.scrub(d.str()) << "\n";
}

size_t errors(const std::vector<diagnostic>& diags) {
  return std::count_if(diags.begin(), diags.end(), [](auto& d) { return d.severity == diagnostic::level::error; });
}

// Where an installed tributary keeps things, relative to the executable (a relocatable
// install: /usr/bin/tributary -> /usr/lib/tributary/plugins).
fs::path install_prefix() {
  std::error_code ec;
  auto exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path() : exe.parent_path().parent_path();
}

// The plugin directory of an install, searched after the config's, when it exists.
void add_installed_plugins(std::vector<fs::path>& dirs) {
  auto d = install_prefix() / "lib" / "tributary" / "plugins";
  std::error_code ec;
  if (fs::is_directory(d, ec) && std::find(dirs.begin(), dirs.end(), d) == dirs.end()) dirs.push_back(d);
}

// Without -c: ./config/tributary.toml (a source tree), then the install's etc/, then /etc.
std::vector<fs::path> config_candidates() {
  return {"config/tributary.toml", install_prefix() / "etc" / "tributary" / "tributary.toml", "/etc/tributary/tributary.toml"};
}

fs::path default_config() {
  for (auto& c : config_candidates())
    if (fs::exists(c)) return c;
  return config_candidates().front();
}

// How to log, from the command line, else the environment, else the config's [host].
struct log_choice {
  std::string level, format;  // empty: not given on the command line
};
log_choice g_log;

std::string pick(const std::string& flag, const char* env, const std::string& from_config) {
  if (!flag.empty()) return flag;
  if (const char* v = std::getenv(env); v && *v) return v;
  return from_config;
}

// The logger the command line, the environment and the config ask for; nullptr (with why on
// stderr) when a level or format is not one.
std::shared_ptr<spdlog::logger> make_log(const config* cfg, std::shared_ptr<redactor> secrets) {
  std::string level = pick(g_log.level, "TRIBUTARY_LOG_LEVEL", cfg ? cfg->host.log_level : "info");
  std::string fmt = pick(g_log.format, "TRIBUTARY_LOG_FORMAT", cfg ? cfg->host.log_format : "text");
  auto format = parse_log_format(fmt);
  static const std::set<std::string> levels{"trace", "debug", "info", "warn", "error", "off"};
  if (!format || !levels.count(level)) {
    std::cerr << "error: log level '" << level << "' / format '" << fmt
              << "' (from --log-level/--log-format, TRIBUTARY_LOG_LEVEL/TRIBUTARY_LOG_FORMAT or [host]): "
                 "levels are trace, debug, info, warn, error, off; formats text, json\n";
    return nullptr;
  }
  return make_logger("tributary", level, std::move(secrets), *format);
}

// Diagnostics as `file:line:col: severity: ...` lines, or through the logger when it writes JSON,
// so stderr holds one format.
// Warnings are left out when the log level is above warn.
void report(const std::vector<diagnostic>& diags, const redactor& secrets, spdlog::logger* log, bool json_log) {
  std::vector<diagnostic> shown;
  for (const auto& d : diags)
    if (d.severity == diagnostic::level::error || !log || log->should_log(spdlog::level::warn)) shown.push_back(d);
  if (!json_log || !log) return print(shown, secrets);
  for (const auto& d : shown) log->log(d.severity == diagnostic::level::error ? spdlog::level::err : spdlog::level::warn, "{}", d.str());
}

// A config with errors is still checked against its plugins (settings, kinds, subjects), so
// one run lists every problem. A problem both passes find at the same place is listed once.
void more_checks(config partial, const std::vector<fs::path>& extra_dirs, std::shared_ptr<redactor> secrets,
                 std::shared_ptr<spdlog::logger> log, std::vector<diagnostic>& diags) {
  partial.host.plugin_dirs.insert(partial.host.plugin_dirs.begin(), extra_dirs.begin(), extra_dirs.end());
  add_installed_plugins(partial.host.plugin_dirs);
  std::vector<diagnostic> found;
  auto quiet = make_logger("check", "off", secrets);
  host::create(std::move(partial), {}, secrets, quiet, found);
  std::set<std::tuple<std::string, int, int>> seen;
  for (auto& d : diags) seen.insert({d.where.file, d.where.line, d.where.col});
  for (auto& d : found)
    if (seen.insert({d.where.file, d.where.line, d.where.col}).second) diags.push_back(d);
  std::stable_sort(diags.begin(), diags.end(), [](auto& a, auto& b) {
    return std::tie(a.where.file, a.where.line, a.where.col) < std::tie(b.where.file, b.where.line, b.where.col);
  });
}

// Config + plugins -> host, with every diagnostic printed. nullptr on any error.
std::unique_ptr<host> load(const fs::path& file, host_options opts, std::shared_ptr<redactor> secrets,
                           std::shared_ptr<spdlog::logger>& log, const std::vector<fs::path>& extra_dirs,
                           bool quiet_ok = false) {
  if (!fs::exists(file)) {
    std::cerr << "error: no config: " << file.string() << " does not exist"
              << (file.is_relative() ? " (relative to " + fs::current_path().string() + ")" : std::string());
    if (file == config_candidates().front()) {
      std::cerr << ", nor do";
      for (size_t i = 1; i < config_candidates().size(); ++i) std::cerr << " " << config_candidates()[i].string();
    }
    std::cerr << "; give one with -c FILE (`tributary config sample` prints one to start from)\n";
    return nullptr;
  }
  auto res = load_config(file, process_env(), secrets.get());
  std::vector<diagnostic> diags = res.diagnostics;
  log = make_log(res.ok() ? &*res.cfg : nullptr, secrets);
  if (!log) return nullptr;
  bool json_log = pick(g_log.format, "TRIBUTARY_LOG_FORMAT", res.ok() ? res.cfg->host.log_format : "text") == "json";
  if (!res.ok()) {
    if (res.partial) more_checks(std::move(*res.partial), extra_dirs, secrets, log, diags);
    report(diags, *secrets, log.get(), json_log);
    std::cerr << (json_log ? "" : file.string() + ": " + std::to_string(errors(diags)) + " error(s)\n");
    return nullptr;
  }
  auto cfg = std::move(*res.cfg);
  if (!extra_dirs.empty()) cfg.host.plugin_dirs.insert(cfg.host.plugin_dirs.begin(), extra_dirs.begin(), extra_dirs.end());
  add_installed_plugins(cfg.host.plugin_dirs);
  auto h = host::create(std::move(cfg), std::move(opts), secrets, log, diags);
  if (!h || !quiet_ok) report(diags, *secrets, log.get(), json_log);
  if (!h && !json_log) std::cerr << file.string() << ": " << errors(diags) << " error(s)\n";
  return h;
}

// SIGHUP or --watch: the file again, applied if it is valid; else its problems are logged and
// the running config goes on.
void reload(host& h, const fs::path& file, const std::shared_ptr<redactor>& secrets, spdlog::logger& log,
            const std::vector<fs::path>& extra_dirs) {
  log.info("reloading {}", file.string());
  auto res = load_config(file, process_env(), secrets.get());
  std::vector<diagnostic> diags = res.diagnostics;
  bool ok = res.ok();
  if (ok) {
    auto cfg = std::move(*res.cfg);
    cfg.host.plugin_dirs.insert(cfg.host.plugin_dirs.begin(), extra_dirs.begin(), extra_dirs.end());
    add_installed_plugins(cfg.host.plugin_dirs);
    ok = h.reload(std::move(cfg), diags);
  }
  for (const auto& d : diags)
    log.log(d.severity == diagnostic::level::error ? spdlog::level::err : spdlog::level::warn, "{}", secrets->scrub(d.str()));
  if (!ok) {
    log.error("reload rejected: {} error(s) in {}; the running config goes on", errors(diags), file.string());
    return;
  }
  log.info("config reloaded (generation {}): changed plugin instances, feeds, views and [server] settings applied, the "
           "others kept; [cluster], [stream] and [host] take effect at the next restart",
           nlohmann::json::parse(h.status_json())["config"]["generation"].get<uint64_t>());
}

std::filesystem::file_time_type modified(const fs::path& f) {
  std::error_code ec;
  auto t = fs::last_write_time(f, ec);
  return ec ? std::filesystem::file_time_type{} : t;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Tributary: a plugin-driven data connector"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "tributary 0.1.0");
  app.add_option("--log-level", g_log.level, "trace, debug, info, warn, error or off (else $TRIBUTARY_LOG_LEVEL, else [host] log_level)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  app.add_option("--log-format", g_log.format, "text or json (else $TRIBUTARY_LOG_FORMAT, else [host] log_format)")
      ->check(CLI::IsMember({"text", "json"}));

  fs::path cfg_file = default_config();
  std::string feed, listen;
  fs::path replay, record, port_file;
  std::vector<fs::path> plugin_dirs;
  bool as_json = false;

  auto* run = app.add_subcommand("run", "Load the config and serve: fetch on schedule, HTTP API and WebSocket");
  run->add_option("-c,--config", cfg_file, "config file (default: config/tributary.toml, else the install's etc/tributary/tributary.toml, else /etc/tributary/tributary.toml)");
  auto* run_replay = run->add_option("--replay", replay, "serve every HTTP request from the cassettes in DIR")->check(CLI::ExistingDirectory);
  auto* run_record = run->add_option("--record", record, "do real requests and write one cassette per exchange into DIR");
  run_replay->excludes(run_record);
  run->add_option("--listen", listen, "override [server] listen (HOST:PORT; port 0 picks one)");
  run->add_option("--port-file", port_file, "write the bound port to FILE once listening");
  bool watch = false;
  run->add_flag("--watch", watch, "reload the config when its file changes (as SIGHUP does)");
  run->add_option("--plugin-dir", plugin_dirs, "extra plugin directory searched first")->allow_extra_args(false);

  auto* check = app.add_subcommand("check", "Validate a config and its plugins; print every problem");
  check->add_option("-c,--config", cfg_file, "config file (default: as for run)");
  bool print_config = false;
  check->add_flag("--print", print_config, "print the effective config (defaults filled in, secrets masked) as TOML");
  check->add_option("--plugin-dir", plugin_dirs, "extra plugin directory searched first")->allow_extra_args(false);

  auto* plugins = app.add_subcommand("plugins", "List the plugins found in plugin_dirs with their manifests");
  plugins->add_option("-c,--config", cfg_file, "config file whose [host] plugin_dirs to search");
  plugins->add_option("--plugin-dir", plugin_dirs, "plugin directory (instead of a config's)")->allow_extra_args(false);
  plugins->add_flag("--json", as_json, "print manifests as JSON lines");

  auto* fetch = app.add_subcommand("fetch", "Run one feed once and print its records as JSON lines");
  fetch->add_option("-c,--config", cfg_file, "config file (default: as for run)");
  fetch->add_option("--feed", feed, "feed id")->required();
  auto* rp = fetch->add_option("--replay", replay, "serve HTTP from the cassettes in DIR")->check(CLI::ExistingDirectory);
  auto* rc = fetch->add_option("--record", record, "write one cassette per exchange into DIR");
  rp->excludes(rc);
  fetch->add_option("--plugin-dir", plugin_dirs, "extra plugin directory searched first")->allow_extra_args(false);

  auto* config_cmd = app.add_subcommand("config", "Config helpers");
  auto* sample = config_cmd->add_subcommand("sample", "Print a commented config made from the plugins found");
  sample->add_option("--plugin-dir", plugin_dirs, "plugin directory (default: the install's, else build/plugins)")->allow_extra_args(false);
  config_cmd->require_subcommand(1);

  std::vector<fs::path> cases;
  auto* tc = app.add_subcommand("test-case", "Run plugin golden cases (case.toml, cassettes/, expected.jsonl)");
  tc->add_option("cases", cases, "case directories")->required()->check(CLI::ExistingDirectory);
  tc->add_option("--plugin-dir", plugin_dirs, "where the plugin under test is")->allow_extra_args(false);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitConfig;  // --help and --version are not errors
  }
  auto secrets = std::make_shared<redactor>();
  std::shared_ptr<spdlog::logger> log;

  if (*check) {
    auto h = load(cfg_file, {}, secrets, log, plugin_dirs);
    if (!h) return kExitConfig;
    if (print_config) {
      std::cout << secrets->scrub(render_toml(h->effective_config()));
      return kExitOk;
    }
    std::cout << "ok: " << cfg_file.string() << ": " << h->cfg().plugins.size() << " plugin instance(s), "
              << h->cfg().feeds.size() << " feed(s)\n";
    return kExitOk;
  }

  if (*sample) {
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

  if (*plugins) {
    std::vector<fs::path> dirs = plugin_dirs;
    // No config given and none found: the install's own plugins are listed all the same.
    bool any_config = plugins->get_option("--config")->count() > 0 || fs::exists(cfg_file);
    if (dirs.empty() && any_config) {
      auto res = load_config(cfg_file, process_env(), secrets.get());
      if (!res.ok()) {
        print(res.diagnostics, *secrets);
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
      if (as_json) {
        std::cout << m.to_json().dump() << "\n";
        continue;
      }
      std::string kinds;
      for (auto& k : m.kinds) kinds += (kinds.empty() ? "" : ", ") + k;
      std::cout << m.name << " " << m.version << " (ABI " << m.abi_major << "." << m.abi_minor << ")  " << m.description
                << "\n  kinds: " << kinds << "\n  modes: " << (m.polls ? (m.streams ? "poll, stream" : "poll") : "stream") << "\n  path: " << m.path.string() << "\n  base_url: " << m.default_base_url
                << "\n  timeout: " << format_duration(m.default_timeout) << "\n  rate_limit: " << m.default_rate_limit.requests
                << " per " << format_duration(m.default_rate_limit.per) << ", burst " << m.default_rate_limit.burst << "\n";
      auto declared = m.declared_json();
      for (auto& [name, spec] : declared.items())
        std::cout << "  declares kind " << name << ": " << spec.dump() << "\n";
      if (!m.secret_envs.empty()) {
        std::string envs;
        for (auto& e : m.secret_envs) envs += (envs.empty() ? "" : ", ") + e;
        std::cout << "  secrets from: " << envs << "\n";
      }
    }
    return bad ? kExitConfig : kExitOk;
  }

  if (*fetch) {
    host_options opts;
    if (!replay.empty()) opts.replay = replay;
    if (!record.empty()) opts.record = record;
    auto h = load(cfg_file, opts, secrets, log, plugin_dirs, true);
    if (!h) return kExitConfig;
    auto r = h->fetch(feed);
    for (auto& line : r.records) std::cout << line << "\n";
    std::cout.flush();
    for (auto& e : r.errors) std::cerr << "error: " << e << "\n";
    if (!r.ok) {
      std::cerr << "fetch failed: " << (r.first_error_class.empty() ? "internal" : r.first_error_class) << "\n";
      return kExitFailed;
    }
    return kExitOk;
  }

  if (*tc) return run_test_cases(cases, plugin_dirs) == 0 ? kExitOk : kExitFailed;

  // run
  host_options opts;
  if (!replay.empty()) opts.replay = replay;
  if (!record.empty()) opts.record = record;
  if (!listen.empty()) opts.listen = listen;
  auto h = load(cfg_file, opts, secrets, log, plugin_dirs);
  if (!h) return kExitConfig;
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGHUP, on_hup);
  // A write to a peer that has gone must be an error, not the end of the process: hiredis
  // writes with write(), which raises SIGPIPE (our sockets and TLS send with MSG_NOSIGNAL).
  std::signal(SIGPIPE, SIG_IGN);
  unsigned short port = 0;
  try {
    port = h->start();
  } catch (const std::exception& e) {
    log->error("{}", e.what());
    return kExitRuntime;
  }
  if (!port_file.empty()) {
    fs::path tmp = port_file;
    tmp += ".tmp";
    std::ofstream(tmp) << port << "\n";
    fs::rename(tmp, port_file);
  }
  auto seen = modified(cfg_file);
  while (!g_stop) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (watch && modified(cfg_file) != seen) {
      seen = modified(cfg_file);
      g_reload = true;
    }
    if (g_reload.exchange(false)) reload(*h, cfg_file, secrets, *log, plugin_dirs);
  }
  log->info("stopping");
  h->stop();
  return kExitOk;
}
