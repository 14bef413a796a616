// `tributary fetch` (one feed once), `test-case` (plugin golden cases) and `plugin-host` (one
// plugin served to a host in another process): the commands that run plugins.
#include <iostream>

#include "cli/commands.hpp"
#include "cli/test_case.hpp"
#include "plugin/plugin_host.hpp"

namespace tributary::cli {

int fetch_command::operator()(const context& cx) const {
  host_options opts;
  if (!replay.empty()) opts.replay = replay;
  if (!record.empty()) opts.record = record;
  std::shared_ptr<spdlog::logger> log;
  auto h = load(cx, config, opts, log, plugin_dirs, true);
  if (!h) return kExitConfig;
  auto r = h->fetch(feed);
  if (r.no_such_feed) {
    std::cerr << "error: " << r.errors.front() << "\n";
    return kExitConfig;  // a usage error, like a bad flag: nothing was run
  }
  for (auto& line : r.records) std::cout << line << "\n";
  std::cout.flush();
  for (auto& e : r.errors) std::cerr << "error: " << e << "\n";
  if (!r.ok) {
    std::cerr << "fetch failed: " << (r.first_error_class.empty() ? "internal" : r.first_error_class) << "\n";
    return kExitFailed;
  }
  return kExitOk;
}

int test_case_command::operator()(const context&) const {
  return run_test_cases(cases, plugin_dirs) == 0 ? kExitOk : kExitFailed;
}

int plugin_host_command::operator()(const context&) const { return serve_plugin(library); }

}  // namespace tributary::cli
