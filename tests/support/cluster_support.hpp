#pragma once
// `tributary run` instances in cluster mode on the demo cassettes, for e2e and chaos tests.
// Include after ws_client.hpp (one Beast translation unit per test file).
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "demo_config.hpp"
#include "process.hpp"
#include "temp_dir.hpp"

namespace tributary::test_support {

using json = nlohmann::json;

struct instance {
  std::unique_ptr<temp_dir> dir;
  std::unique_ptr<child> proc;
  unsigned short port = 0;
  std::string admin_token;  // when the config sets one
  json status() const { return json::parse(http_get(port, "/api/v1/status", admin_token).body); }
};

inline std::string cluster_config(int redis_port) {
  return std::string("[host]\nplugin_dirs = [\"") + TRIBUTARY_PLUGIN_DIR + R"("]
log_level = "info"
[server]
listen = "127.0.0.1:0"
[cluster]
mode = "redis"
redis_url = "redis://127.0.0.1:)" + std::to_string(redis_port) + R"("
name = "e2e"
lease = "1s"
renew_every = "250ms"
)" + demo_spot_feed("200ms");
}

inline instance launch(const std::string& cfg_text, const std::string& replay = TRIBUTARY_SOURCE_DIR "/config/demo-cassettes") {
  instance in;
  in.dir = std::make_unique<temp_dir>();
  auto cfg = in.dir->write("t.toml", cfg_text);
  std::vector<std::string> args{TRIBUTARY_EXE, "run", "-c", cfg.string(), "--port-file", (in.dir->path() / "port").string()};
  if (!replay.empty()) args.insert(args.end(), {"--replay", replay});  // "": no cassettes, real upstreams
  in.proc = std::make_unique<child>(args, in.dir->path());
  for (int i = 0; i < 500 && !in.port; ++i) {
    auto t = slurp(in.dir->path() / "port");
    if (!t.empty()) in.port = static_cast<unsigned short>(std::stoi(t));
    else std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!in.port) ADD_FAILURE() << "instance did not start: " << in.proc->err();
  return in;
}

// The value of one series in the Prometheus text (-1 when absent).
inline double metric(const std::string& text, const std::string& series) {
  auto at = text.find("\n" + series + " ");
  return at == std::string::npos ? -1 : std::stod(text.substr(at + series.size() + 2));
}

// Index of the single leader, waiting up to `limit`; -1 if none or several.
inline int wait_leader(std::vector<instance>& all, std::chrono::milliseconds limit, const std::vector<bool>& alive) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    int leader = -1, count = 0;
    for (size_t i = 0; i < all.size(); ++i)
      if (alive[i] && all[i].status()["role"] == "leader") leader = static_cast<int>(i), ++count;
    if (count == 1) return leader;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return -1;
}

// Waits until the status says generation `g`; returns that status.
inline json wait_generation(const instance& in, uint64_t g) {
  json st;
  for (int i = 0; i < 250; ++i) {
    st = in.status();
    if (st["config"]["generation"] == g) return st;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ADD_FAILURE() << "generation " << g << " never came: " << st["config"].dump();
  return st;
}

}  // namespace tributary::test_support
