#pragma once
// One small type per `tributary` subcommand: its options as fields (bound by main.cpp) and
// what it does. Each returns an exit code (cli_support.hpp).
#include <filesystem>
#include <string>
#include <vector>

#include "cli/cli_support.hpp"

namespace tributary::cli {

struct run_command {
  fs::path config, replay, record, port_file;
  std::string listen;
  bool watch = false;
  std::vector<fs::path> plugin_dirs;
  int operator()(const context& cx) const;
};

struct check_command {
  fs::path config;
  bool print = false;
  std::vector<fs::path> plugin_dirs;
  int operator()(const context& cx) const;
};

// The request plan: what the feeds will spend of each source's budget, per window.
struct plan_command {
  fs::path config;
  bool json = false;
  std::vector<fs::path> plugin_dirs;
  int operator()(const context& cx) const;
};

struct plugins_command {
  fs::path config;
  bool config_given = false;  // -c given: its plugin_dirs, even when the file is missing
  bool json = false;
  std::vector<fs::path> plugin_dirs;
  int operator()(const context& cx) const;
};

struct fetch_command {
  fs::path config, replay, record;
  std::string feed;
  std::vector<fs::path> plugin_dirs;
  int operator()(const context& cx) const;
};

struct sample_command {
  std::vector<fs::path> plugin_dirs;
  int operator()(const context& cx) const;
};

struct test_case_command {
  std::vector<fs::path> cases, plugin_dirs;
  int operator()(const context& cx) const;
};

// Started by the host for a plugin with isolation = "process": serves the library over the
// plugin protocol on stdin/stdout.
struct plugin_host_command {
  fs::path library;
  int operator()(const context& cx) const;
};

}  // namespace tributary::cli
