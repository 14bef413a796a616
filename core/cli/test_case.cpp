#include "cli/test_case.hpp"

#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "app/host.hpp"
#include "config/config.hpp"
#include "util/clock.hpp"
#include "obs/log.hpp"
#include "util/redactor.hpp"

namespace tributary {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string differences(const fs::path& dir, const json& meta, const host::fetch_result& r);

// Returns an empty string on success, else what went wrong.
std::string run_case(const fs::path& dir, const std::vector<fs::path>& plugin_dirs) {
  json meta = json::object();
  if (fs::exists(dir / "case.json")) {
    meta = json::parse(slurp(dir / "case.json"), nullptr, false);
    if (meta.is_discarded()) return "case.json is not valid JSON";
  }
  std::map<std::string, std::string> env_map;
  const json env_json = meta.value("env", json::object());
  for (auto& [k, v] : env_json.items()) env_map[k] = v.get<std::string>();
  env_lookup env = [&](const std::string& name) -> std::optional<std::string> {
    if (auto it = env_map.find(name); it != env_map.end()) return it->second;
    return std::nullopt;
  };
  auto secrets = std::make_shared<redactor>();
  auto res = load_config(dir / "case.toml", env, secrets.get());
  if (!res.ok()) {
    std::string s;
    for (auto& d : res.diagnostics) s += "\n  " + d.str();
    return "case.toml does not load:" + s;
  }
  auto cfg = std::move(*res.cfg);
  cfg.host.plugin_dirs.insert(cfg.host.plugin_dirs.begin(), plugin_dirs.begin(), plugin_dirs.end());
  std::string feed = meta.value("feed", cfg.feeds.empty() ? std::string() : cfg.feeds.front().id);
  fake_clock clock(meta.value("now", int64_t{1773153015123}));
  auto log = make_logger("test-case", "error", secrets);
  std::vector<diagnostic> diags;
  host_options opts;
  opts.replay = dir / "cassettes";
  auto h = host::create(std::move(cfg), opts, secrets, log, diags, &clock);
  if (!h) {
    std::string s;
    for (auto& d : diags) s += "\n  " + d.str();
    return "host does not start:" + s;
  }
  auto r = h->fetch(feed, [&clock](int64_t due) { clock.set(std::max(clock.now_ms(), due)); });
  return differences(dir, meta, r);
}

// How a fetch's outcome differs from expected.jsonl and case.json's expectations; empty when not.
std::string differences(const fs::path& dir, const json& meta, const host::fetch_result& r) {
  std::vector<json> expected;
  if (fs::exists(dir / "expected.jsonl")) {
    std::istringstream in(slurp(dir / "expected.jsonl"));
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) expected.push_back(json::parse(line));
  }
  std::ostringstream diff;
  if (expected.size() != r.records.size())
    diff << "\n  expected " << expected.size() << " record(s), got " << r.records.size();
  for (size_t i = 0; i < std::max(expected.size(), r.records.size()); ++i) {
    json got = i < r.records.size() ? json::parse(r.records[i]) : json(nullptr);
    json want = i < expected.size() ? expected[i] : json(nullptr);
    if (got != want) diff << "\n  record " << i + 1 << ":\n    want " << want.dump() << "\n    got  " << got.dump();
  }
  std::string want_err = meta.value("expect_error", "");
  if (!want_err.empty() && r.first_error_class != want_err)
    diff << "\n  expected error class " << want_err << ", got " << (r.first_error_class.empty() ? "none" : r.first_error_class);
  if (auto msg = meta.find("expect_message"); msg != meta.end()) {
    bool found = false;
    for (auto& e : r.errors) found |= e.find(msg->get<std::string>()) != std::string::npos;
    if (!found) diff << "\n  no error mentions '" << msg->get<std::string>() << "'";
  }
  if (want_err.empty() && !r.ok) {
    diff << "\n  unexpected failure:";
    for (auto& e : r.errors) diff << "\n    " << e;
  }
  return diff.str();
}

}  // namespace

int run_test_cases(const std::vector<fs::path>& cases, const std::vector<fs::path>& plugin_dirs) {
  int failed = 0;
  for (const auto& c : cases) {
    std::string why;
    try {
      why = run_case(c, plugin_dirs);
    } catch (const std::exception& e) {
      why = std::string("exception: ") + e.what();
    }
    if (why.empty()) {
      std::cout << "PASS " << c.string() << "\n";
    } else {
      std::cout << "FAIL " << c.string() << why << "\n";
      ++failed;
    }
  }
  std::cout << (cases.size() - failed) << " passed, " << failed << " failed\n";
  return failed ? 1 : 0;
}

}  // namespace tributary
