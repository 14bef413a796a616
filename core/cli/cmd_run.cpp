// `tributary run`: serve until SIGINT or SIGTERM; SIGHUP (or --watch) reloads the config.
#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <fstream>
#include <thread>

#include "cli/commands.hpp"

namespace tributary::cli {

namespace {

std::atomic<bool> g_stop{false}, g_reload{false};
void on_signal(int) { g_stop = true; }
void on_hup(int) { g_reload = true; }

fs::file_time_type modified(const fs::path& f) {
  std::error_code ec;
  auto t = fs::last_write_time(f, ec);
  return ec ? fs::file_time_type{} : t;
}

void write_port(const fs::path& port_file, unsigned short port) {
  fs::path tmp = port_file;
  tmp += ".tmp";
  std::ofstream(tmp) << port << "\n";
  fs::rename(tmp, port_file);
}

}  // namespace

int run_command::operator()(const context& cx) const {
  host_options opts;
  if (!replay.empty()) opts.replay = replay;
  if (!record.empty()) opts.record = record;
  if (!listen.empty()) opts.listen = listen;
  std::shared_ptr<spdlog::logger> log;
  auto h = load(cx, config, opts, log, plugin_dirs);
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
  if (!port_file.empty()) write_port(port_file, port);
  auto seen = modified(config);
  while (!g_stop) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (watch && modified(config) != seen) {
      seen = modified(config);
      g_reload = true;
    }
    if (g_reload.exchange(false)) reload(*h, config, cx.secrets, *log, plugin_dirs);
  }
  log->info("stopping");
  h->stop();
  return kExitOk;
}

}  // namespace tributary::cli
