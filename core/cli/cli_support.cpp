#include "cli/cli_support.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <iostream>
#include <set>

#include "config/config.hpp"
#include "obs/log.hpp"
#include "util/redactor.hpp"

namespace tributary::cli {

void print(const std::vector<diagnostic>& diags, const redactor& secrets) {
  for (const auto& d : diags) std::cerr << secrets.scrub(d.str()) << "\n";
}

size_t errors(const std::vector<diagnostic>& diags) {
  return std::count_if(diags.begin(), diags.end(), [](auto& d) { return d.severity == diagnostic::level::error; });
}

// Where an installed tributary keeps things, relative to the executable (a relocatable
// install: /usr/bin/tributary -> /usr/lib/tributary/plugins).
static fs::path install_prefix() {
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
static std::vector<fs::path> config_candidates() {
  return {"config/tributary.toml", install_prefix() / "etc" / "tributary" / "tributary.toml", "/etc/tributary/tributary.toml"};
}

fs::path default_config() {
  for (auto& c : config_candidates())
    if (fs::exists(c)) return c;
  return config_candidates().front();
}


namespace {

std::string pick(const std::string& flag, const char* env, const std::string& from_config) {
  if (!flag.empty()) return flag;
  if (const char* v = std::getenv(env); v && *v) return v;
  return from_config;
}

// The logger the command line, the environment and the config ask for; nullptr (with why on
// stderr) when a level or format is not one.
std::shared_ptr<spdlog::logger> make_log(const log_choice& g_log, const config* cfg, std::shared_ptr<redactor> secrets) {
  std::string level = pick(g_log.level, "TRIBUTARY_LOG_LEVEL", cfg ? cfg->host.log_level : "info");
  std::string fmt = pick(g_log.format, "TRIBUTARY_LOG_FORMAT", name_of(cfg ? cfg->host.log_format : log_format::text));
  auto format = parse_mode<log_format>(fmt);
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

}  // namespace

std::unique_ptr<host> load(const context& cx, const fs::path& file, host_options opts, std::shared_ptr<spdlog::logger>& log,
                           const std::vector<fs::path>& extra_dirs, bool quiet_ok) {
  const auto& secrets = cx.secrets;
  const auto& g_log = cx.log;
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
  log = make_log(g_log, res.ok() ? &*res.cfg : nullptr, secrets);
  if (!log) return nullptr;
  bool json_log = pick(g_log.format, "TRIBUTARY_LOG_FORMAT", name_of(res.ok() ? res.cfg->host.log_format : log_format::text)) == "json";
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

}  // namespace tributary::cli
