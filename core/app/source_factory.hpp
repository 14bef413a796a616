#pragma once
// Makes the running source of a [plugins.NAME] table: finds and loads its library (once per
// plugin for a whole config), registers the secrets its manifest names, checks its settings
// against the manifest's schema, creates the instance and gives it its rate budget and circuit
// breaker. Every problem becomes a diagnostic at the table's position.
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace spdlog { class logger; }

namespace tributary {

class plugin_library;
class redactor;
class metrics;
class clock_source;
struct source_runtime;
struct plugin_manifest;

class source_factory {
 public:
  source_factory(std::vector<std::filesystem::path> plugin_dirs, redactor& secrets, metrics& m, const clock_source& clock,
                 std::shared_ptr<spdlog::logger> log, report_error error);

  // nullptr when the instance cannot be made (reported).
  std::unique_ptr<source_runtime> make(const plugin_instance_config& pc);
  // The libraries loaded so far, by plugin name: kept while their instances live.
  const std::map<std::string, std::shared_ptr<plugin_library>>& libraries() const { return libs_; }

 private:
  std::optional<std::filesystem::path> library_file(const plugin_instance_config& pc);
  std::shared_ptr<plugin_library> library(const plugin_instance_config& pc);
  std::unique_ptr<class plugin_backend> backend(const plugin_instance_config& pc);
  bool check_settings(const plugin_instance_config& pc, const plugin_manifest& mf);
  bool declare_instance_kinds(const plugin_instance_config& pc, class plugin_instance& inst);
  void attach_limits(source_runtime& s, const plugin_instance_config& pc, const plugin_manifest& mf);

  std::vector<std::filesystem::path> dirs_;
  redactor& secrets_;
  metrics& m_;
  const clock_source& clock_;
  std::shared_ptr<spdlog::logger> log_;
  report_error error_;
  std::map<std::string, std::shared_ptr<plugin_library>> libs_;
};

}  // namespace tributary
