#pragma once
// Wires a validated config to running parts: plugin instances, feeds, the publish path (broker, delivery, intake),
// scheduler and (for `run`) the server. Every problem found while wiring becomes a diagnostic
// that points into the config file.
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "plugin/plugin.hpp"
#include "server/server.hpp"

namespace spdlog { class logger; }

namespace tributary {

class clock_source;
class http_transport;
class redactor;
class metrics;
class record_cache;
class fanout_hub;
class broker;
class feed_runner;
class scheduler;
class server;
struct source_runtime;
struct feed_runtime;

struct host_options {
  std::optional<std::filesystem::path> replay;  // serve HTTP from cassettes
  std::optional<std::filesystem::path> record;  // write cassettes of real exchanges
  std::optional<std::string> listen;            // overrides [server] listen
};

class host {
 public:
  // Loads plugins and checks everything against their manifests. Fails with diagnostics;
  // warnings are appended to `diags` either way.
  static std::unique_ptr<host> create(config cfg, host_options opts, std::shared_ptr<redactor> secrets,
                                      std::shared_ptr<spdlog::logger> log, std::vector<diagnostic>& diags,
                                      const clock_source* clock = nullptr);
  ~host();

  const config& cfg() const { return cfg_; }
  // Runs one feed once and waits; for `tributary fetch`.
  struct fetch_result {
    std::vector<std::string> records;  // JSON lines
    std::vector<std::string> errors;   // "class: message"
    std::string first_error_class;
    bool ok = false;
    bool no_such_feed = false;  // a usage error: nothing was run
  };
  // `idle(next_due)` is called while waiting with delayed work pending (retries); by default it
  // sleeps in real time, a test with a fake clock advances the clock instead.
  fetch_result fetch(const std::string& feed_id, std::function<void(int64_t next_due)> idle = {});

  // `run`: starts the server and the scheduler; returns the bound port.
  unsigned short start();
  void stop();
  std::string status_json() const;
  // The config in force, with what the plugins' manifests default filled in (base_url, timeout,
  // rate_limit): `check --print`.
  config effective_config() const;
  // Applies a new config's plugin instances and feeds (SIGHUP, run --watch) by difference: the
  // changed ones are rebuilt and restarted, the others kept; clients, the cache, seq numbers
  // and a held lease are kept. A config with errors changes nothing: false, with the
  // diagnostics. Views and [server] (for new requests and sessions) apply at once, except the
  // listener, ws_path, io_threads, the auth mode and history, which warn and wait for a
  // restart, as do [cluster], [stream] and [host].
  bool reload(config cfg, std::vector<diagnostic>& diags);
  // The control API: run, pause or resume a feed, reset a source. In cluster mode the request
  // also goes through Redis, so it applies to whichever node leads.
  control_reply control(const control_request& r);
  std::string metrics_text() const;
  // What the feeds will spend of each source's rate budget (request_plan.hpp).
  struct request_plan request_plan() const;

 private:
  host();
  control_reply apply_control(const control_request& r);
  void apply_shared_control(const struct cluster_control& c);
  struct parts;
  struct work;
  static bool build_work(parts& p, work& w, const config& cfg, std::vector<diagnostic>& diags, work* previous = nullptr);
  static std::shared_ptr<struct source_runtime> keep_source(work& previous, const struct plugin_instance_config& pc,
                                                            std::filesystem::file_time_type file_time);
  static std::shared_ptr<struct feed_runtime> keep_feed(work& previous, const struct feed_runtime& f);
  static void watch_demand(parts& p, const work& w, const std::vector<struct view_config>& views);
  static bool make_publish_path(parts& p, const config& cfg, std::vector<diagnostic>& diags);
  static bool make_streams(parts& p, work& w, const host_options& opts, std::vector<diagnostic>& diags,
                           const work* previous = nullptr);
  void poll_fallback_now(struct feed_runtime& f);
  void start_work(work& w);
  void continue_stream_numbering(parts& p);
  server_options with_jwks(server_options so) const;
  static void share_limits(parts& p, work& w, const config& cfg);
  static void reap(parts& p);
  void reload_views(std::vector<struct view_config> views);
  bool reload_server(config& cfg, std::vector<diagnostic>& diags);
  struct run_outcome poll_once(struct feed_runtime& f, std::function<void(int64_t)> idle);
  struct run_outcome replay_stream(struct feed_runtime& f);
  std::unique_ptr<parts> p_;
  config cfg_;
};

}  // namespace tributary
