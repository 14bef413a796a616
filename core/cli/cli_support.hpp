#pragma once
// What the `tributary` commands share: exit codes, where an install keeps things, the logger
// the command line asks for, and loading a config into a host with every problem reported.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "app/host.hpp"

namespace spdlog { class logger; }

namespace tributary {

class redactor;

namespace cli {

namespace fs = std::filesystem;

// Exit codes (docs/operations.md): the same failure always gives the same code.
constexpr int kExitOk = 0;
constexpr int kExitConfig = 1;   // a config or usage error: nothing was run
constexpr int kExitFailed = 2;   // fetch or test-case ran and failed
constexpr int kExitRuntime = 3;  // a failure while running (cannot listen, ...)

// How to log, from the command line (empty: not given), else the environment, else [host].
struct log_choice {
  std::string level, format;
};

// What every command gets: the secrets to scrub and the logging choice.
struct context {
  std::shared_ptr<redactor> secrets;
  log_choice log;
};

void print(const std::vector<diagnostic>& diags, const redactor& secrets);
size_t errors(const std::vector<diagnostic>& diags);
// The plugin directory of an install, searched after the config's, when it exists.
void add_installed_plugins(std::vector<fs::path>& dirs);
// Without -c: ./config/tributary.toml (a source tree), then the install's etc/, then /etc.
fs::path default_config();
// Config + plugins -> host, with every diagnostic printed. nullptr on any error; `log` is
// the logger the config and command line ask for.
std::unique_ptr<host> load(const context& cx, const fs::path& file, host_options opts, std::shared_ptr<spdlog::logger>& log,
                           const std::vector<fs::path>& extra_dirs, bool quiet_ok = false);
// SIGHUP or --watch: the file again, applied if it is valid; else its problems are logged and
// the running config goes on.
void reload(host& h, const fs::path& file, const std::shared_ptr<redactor>& secrets, spdlog::logger& log,
            const std::vector<fs::path>& extra_dirs);

}  // namespace cli
}  // namespace tributary
