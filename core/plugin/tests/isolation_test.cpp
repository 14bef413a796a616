// Plugins in a child process (isolation = "process", exec plugins): the real plugin-host
// (the tributary binary) and real plugin libraries; faults from tests/abi/faulty.cpp.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "plugin/abi_backend.hpp"
#include "plugin/process_backend.hpp"

using namespace tributary;
using ::testing::HasSubstr;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

struct plugin_host_env {
  plugin_host_env() { setenv("TRIBUTARY_PLUGIN_HOST", TRIBUTARY_EXE, 1); }
};
const plugin_host_env set_plugin_host;

process_options isolated(const fs::path& lib) {
  process_options o;
  o.child.argv = {plugin_host_program(), "plugin-host", lib.string()};
  o.first_restart_delay = millis(100);
  return o;
}

fs::path faulty_lib() { return fs::path(TRIBUTARY_ABI_PLUGIN_DIR) / "libabi_faulty.so"; }
fs::path binance_lib() { return fs::path(TRIBUTARY_PLUGIN_DIR) / "libbinance.so"; }

std::unique_ptr<plugin_instance> make(process_options o, const json& settings) {
  auto started = process_backend::start(std::move(o));
  if (auto* why = std::get_if<std::string>(&started)) {
    ADD_FAILURE() << *why;
    return nullptr;
  }
  auto inst = plugin_instance::create(std::move(std::get<std::unique_ptr<process_backend>>(started)), "t", settings, {});
  if (auto* e = std::get_if<fetch_error>(&inst)) {
    ADD_FAILURE() << e->str();
    return nullptr;
  }
  return std::move(std::get<std::unique_ptr<plugin_instance>>(inst));
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The binance ticker cassette of the price_ok case, as the host would hand it to parse.
http_response ticker_response() {
  auto c = json::parse(slurp(fs::path(TRIBUTARY_SOURCE_DIR) / "plugins/binance/tests/cases/price_ok/cassettes/01-ticker.json"));
  http_response r;
  r.status = 200;
  r.headers = {{"Content-Type", "application/json"}};
  r.body = c["response"]["body"].dump();
  r.received_ms = 1773153015123;
  return r;
}

feed_request spot(plugin_instance& p, std::vector<std::string> subjects) {
  feed_request f{"spot", "price", {}};
  for (auto& s : subjects) f.subjects.emplace_back(s, std::get<std::string>(p.map_subject("price", s)));
  return f;
}

http_response faulty_prices() {
  http_response r;
  r.status = 200;
  r.body = R"({"BTCUSDT": "84250.5", "ETHUSDT": "1925.25"})";
  return r;
}

bool alive(pid_t pid) { return pid > 0 && kill(pid, 0) == 0; }

}  // namespace

TEST(Isolation, AnIsolatedPluginAnswersExactlyAsInProcess) {
  auto lib = plugin_library::load(binance_lib());
  auto in = std::move(std::get<std::unique_ptr<plugin_instance>>(plugin_instance::create(std::get<std::shared_ptr<plugin_library>>(lib), "b", json::object(), {})));
  auto out = make(isolated(binance_lib()), json::object());
  ASSERT_TRUE(out);
  EXPECT_EQ(out->manifest().to_json().dump(), [&] {
    auto j = in->manifest().to_json();
    return j.dump();
  }());
  auto f = spot(*in, {"BTC-USDT", "ETH-USDT", "SOL-USDT"});
  EXPECT_EQ(spot(*out, {"BTC-USDT", "ETH-USDT", "SOL-USDT"}).subjects, f.subjects);
  auto plan_in = in->plan(f), plan_out = out->plan(f);
  ASSERT_EQ(plan_out.requests.size(), 1u);
  EXPECT_EQ(plan_out.requests[0].url(), plan_in.requests[0].url());
  EXPECT_EQ(plan_out.requests[0].weight, plan_in.requests[0].weight);
  auto a = in->parse(f, plan_in.requests[0], ticker_response());
  auto b = out->parse(f, plan_out.requests[0], ticker_response());
  ASSERT_EQ(b.records.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(b.records[i].to_json(), a.records[i].to_json());
  EXPECT_EQ(out->backend_status()["isolation"], "process");
  EXPECT_TRUE(alive(out->backend_status()["pid"].get<pid_t>()));
}

TEST(Isolation, ACrashIsPluginCrashedNamingTheSignalAndTheChildComesBack) {
  auto p = make(isolated(faulty_lib()), {{"crash_on_parse", 2}});
  ASSERT_TRUE(p);
  auto f = spot(*p, {"BTC-USDT"});
  http_request q;
  pid_t first = p->backend_status()["pid"];
  EXPECT_EQ(p->parse(f, q, faulty_prices()).records.size(), 1u);
  auto crashed = p->parse(f, q, faulty_prices());
  ASSERT_EQ(crashed.errors.size(), 1u);
  EXPECT_EQ(crashed.errors[0].cls, error_class::plugin_crashed);
  EXPECT_THAT(crashed.errors[0].message, HasSubstr("killed by SIGSEGV in parse"));
  EXPECT_FALSE(alive(first));
  auto soon = p->parse(f, q, faulty_prices());  // within the backoff: no new child yet
  ASSERT_EQ(soon.errors.size(), 1u);
  EXPECT_EQ(soon.errors[0].cls, error_class::plugin_crashed);
  EXPECT_THAT(soon.errors[0].message, HasSubstr("next start in"));
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  auto back = p->parse(f, q, faulty_prices());  // a new child, the instance made again
  ASSERT_EQ(back.records.size(), 1u) << (back.errors.empty() ? "" : back.errors[0].str());
  EXPECT_EQ(back.records[0].data["price"], 84250.5);
  auto st = p->backend_status();
  EXPECT_EQ(st["restarts"], 1);
  EXPECT_EQ(st["crashes"], 1);
  EXPECT_NE(st["pid"].get<pid_t>(), first);
}

TEST(Isolation, AnEndlessLoopIsPluginTimeoutAfterCallTimeout) {
  auto o = isolated(faulty_lib());
  o.call_timeout = millis(300);
  auto p = make(o, {{"loop_on_plan", 2}});
  ASSERT_TRUE(p);
  pid_t pid = p->backend_status()["pid"];
  EXPECT_EQ(p->plan(spot(*p, {"BTC-USDT"})).requests.size(), 1u);
  auto t0 = std::chrono::steady_clock::now();
  auto r = p->plan(spot(*p, {"BTC-USDT"}));
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].cls, error_class::plugin_timeout);
  EXPECT_THAT(r.errors[0].message, HasSubstr("took longer than call_timeout (300ms) in plan"));
  EXPECT_GE(took, std::chrono::milliseconds(300));
  EXPECT_LT(took, std::chrono::milliseconds(1500));
  EXPECT_FALSE(alive(pid));  // killed, and reaped
  EXPECT_EQ(p->backend_status()["timeouts"], 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  EXPECT_EQ(p->plan(spot(*p, {"BTC-USDT"})).requests.size(), 1u);  // plan 1 of the new child's life
}

TEST(Isolation, CpuLimitStopsASpinningCallBeforeItsTimeout) {
  auto o = isolated(faulty_lib());
  o.call_timeout = millis(20000);
  o.cpu_limit = millis(200);
  auto p = make(o, {{"loop_on_plan", 1}});
  ASSERT_TRUE(p);
  auto t0 = std::chrono::steady_clock::now();
  auto r = p->plan(spot(*p, {"BTC-USDT"}));
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].cls, error_class::plugin_timeout);
  EXPECT_THAT(r.errors[0].message, HasSubstr("used more than cpu_limit (200ms) of CPU in plan"));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
}

TEST(Isolation, MemoryLimitStopsUnboundedAllocation) {
  auto o = isolated(faulty_lib());
  o.child.memory_limit = 256ull << 20;
  o.call_timeout = millis(20000);
  auto p = make(o, {{"allocate_on_plan", true}});
  ASSERT_TRUE(p);
  auto r = p->plan(spot(*p, {"BTC-USDT"}));
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].cls, error_class::plugin_crashed);
  EXPECT_THAT(r.errors[0].message, HasSubstr("ran out of memory (memory_limit) in plan"));
}

TEST(Isolation, TheChildHasOnlyItsSocketAndStdio) {
  int leak[2];
  ASSERT_EQ(pipe(leak), 0);  // not close-on-exec: a careless spawn would pass it on
  struct stat st {};
  fstat(leak[0], &st);
  std::string leaked = "pipe:[" + std::to_string(st.st_ino) + "]";
  auto p = make(isolated(faulty_lib()), json::object());
  ASSERT_TRUE(p);
  pid_t pid = p->backend_status()["pid"];
  std::vector<std::string> targets;
  for (auto& e : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) targets.push_back(fs::read_symlink(e.path()).string());
  close(leak[0]), close(leak[1]);
  int sockets = 0;
  for (auto& t : targets) {
    EXPECT_NE(t, leaked);
    sockets += t.rfind("socket:", 0) == 0;
  }
  EXPECT_EQ(sockets, 1);
  EXPECT_LE(targets.size(), 4u);  // stdin (/dev/null), stdout and stderr (the host's stderr), the socket
}

TEST(Isolation, ALibraryThatDoesNotLoadIsAClearStartError) {
  auto started = process_backend::start(isolated(fs::path(TRIBUTARY_ABI_PLUGIN_DIR) / "libabi_newer_major.so"));
  ASSERT_TRUE(std::holds_alternative<std::string>(started));
  EXPECT_THAT(std::get<std::string>(started), HasSubstr("incompatible with host ABI"));
  process_options missing;
  missing.exec = true;
  missing.child.argv = {"/nonexistent/plugin"};
  auto none = process_backend::start(missing);
  ASSERT_TRUE(std::holds_alternative<std::string>(none));
  EXPECT_THAT(std::get<std::string>(none), HasSubstr("cannot run '/nonexistent/plugin': No such file or directory"));
}

namespace {

// An exec plugin that answers its manifest, then misbehaves in plan as `mode` says.
const char* kHostile = R"PY(
import json, os, struct, sys
mode = sys.argv[1]
def send(obj=None, raw=None):
    data = raw if raw is not None else json.dumps(obj).encode()
    os.write(1, struct.pack(">I", len(data)) + data)
def read():
    head = os.read(0, 4)
    if len(head) < 4: sys.exit(0)
    n = struct.unpack(">I", head)[0]
    body = b""
    while len(body) < n: body += os.read(0, n - len(body))
    return json.loads(body)
if mode == "exit_at_once": sys.exit(3)
while True:
    msg = read()
    call = msg["call"]
    if call == "manifest":
        send({"result": "ok", "manifest": {"name": "hostile", "kinds": ["price"], "default_base_url": "http://127.0.0.1:9"}})
    elif call == "plan" and mode == "not_json":
        send(raw=b"\x00\xffhello")
    elif call == "plan" and mode == "huge":
        os.write(1, struct.pack(">I", 0x7fffffff))
    elif call == "plan" and mode == "bad_shapes":
        send({"result": "ok", "requests": "everything"})
    elif call == "plan" and mode == "deep":
        send(raw=b'{"result":"ok","records":' + b"[" * 100000 + b"]" * 100000 + b"}")
    elif call == "plan" and mode == "environment":
        send({"result": "ok", "requests": [{"path": "/" + ",".join(sorted(k for k in os.environ if k.startswith("TRIB_TEST_")))}]})
    elif call == "plan" and mode == "log_then_answer":
        send({"log": "planning " + msg["feed"]["kind"], "level": "warn"})
        send({"count": "plans", "value": 2})
        send({"result": "ok", "requests": [{"path": "/x", "query": [["a", "1"]]}]})
    else:
        send({"result": "ok", "native": msg.get("subject", "")})
        if call == "destroy": sys.exit(0)
)PY";

std::unique_ptr<plugin_instance> hostile(const fs::path& dir, const std::string& mode, plugin_services svc = {}) {
  std::ofstream(dir / "hostile.py") << kHostile;
  process_options o;
  o.exec = true;
  o.child.argv = {"python3", "hostile.py", mode};
  o.child.cwd = dir;
  o.first_restart_delay = millis(50);
  auto started = process_backend::start(std::move(o));
  if (auto* why = std::get_if<std::string>(&started)) {
    ADD_FAILURE() << *why;
    return nullptr;
  }
  auto inst = plugin_instance::create(std::move(std::get<std::unique_ptr<process_backend>>(started)), "h", json::object(), std::move(svc));
  return std::move(std::get<std::unique_ptr<plugin_instance>>(inst));
}

struct scratch {
  fs::path path = fs::temp_directory_path() / ("trib-iso-" + std::to_string(getpid()));
  scratch() { fs::create_directories(path); }
  ~scratch() { fs::remove_all(path); }
};

}  // namespace

TEST(ExecPlugin, AnswersThatBreakTheProtocolAreErrorsAndTheNextCallStartsAgain) {
  scratch d;
  for (auto [mode, want] : {std::pair{"not_json", "broke the protocol in plan: a message that is not a JSON object"},
                            std::pair{"huge", "broke the protocol in plan: a message over 64 MiB"},
                            std::pair{"deep", "broke the protocol in plan: a message nested deeper than 64 levels"}}) {
    auto p = hostile(d.path, mode);
    ASSERT_TRUE(p);
    feed_request f{"spot", "price", {{"BTC-USDT", "BTC-USDT"}}};
    auto r = p->plan(f);
    ASSERT_EQ(r.errors.size(), 1u) << mode;
    EXPECT_EQ(r.errors[0].cls, error_class::plugin_crashed) << mode;
    EXPECT_THAT(r.errors[0].message, HasSubstr(want));
    std::this_thread::sleep_for(std::chrono::milliseconds(80));
    EXPECT_THAT(p->plan(f).errors.at(0).message, HasSubstr(want)) << "a new child, which breaks it again";
    EXPECT_EQ(p->backend_status()["restarts"], 1);
  }
}

TEST(ExecPlugin, MalformedShapesFailTheCallOnly) {
  scratch d;
  auto p = hostile(d.path, "bad_shapes");
  ASSERT_TRUE(p);
  auto r = p->plan({"spot", "price", {{"BTC-USDT", "BTC-USDT"}}});
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].cls, error_class::internal);
  EXPECT_THAT(r.errors[0].message, HasSubstr("the plugin's answer to plan is malformed: requests must be an array"));
  EXPECT_EQ(p->backend_status()["restarts"], 0);  // the protocol held: the child is kept
}

TEST(ExecPlugin, LogAndCountMessagesReachTheHostBeforeTheAnswer) {
  scratch d;
  std::vector<std::string> logs;
  double counted = 0;
  plugin_services svc;
  svc.log = [&](int level, std::string_view m) { logs.push_back(std::to_string(level) + ":" + std::string(m)); };
  svc.count = [&](std::string_view name, double v) { counted += name == "plans" ? v : 0; };
  auto p = hostile(d.path, "log_then_answer", svc);
  ASSERT_TRUE(p);
  auto r = p->plan({"spot", "price", {{"BTC-USDT", "BTC-USDT"}}});
  ASSERT_EQ(r.requests.size(), 1u);
  EXPECT_EQ(r.requests[0].path, "/x");
  EXPECT_EQ(r.requests[0].query, (kv_list{{"a", "1"}}));
  EXPECT_EQ(logs, std::vector<std::string>{"3:planning price"});
  EXPECT_EQ(counted, 2);
}

TEST(ExecPlugin, AProgramThatExitsAtOnceIsAStartError) {
  scratch d;
  std::ofstream(d.path / "hostile.py") << kHostile;
  process_options o;
  o.exec = true;
  o.child.argv = {"python3", "hostile.py", "exit_at_once"};
  o.child.cwd = d.path;
  auto started = process_backend::start(std::move(o));
  ASSERT_TRUE(std::holds_alternative<std::string>(started));
  EXPECT_THAT(std::get<std::string>(started), HasSubstr("exited with status 3 in manifest"));
}

TEST(ExecPlugin, GetsNoneOfTheHostsSecretsFromTheEnvironment) {
  scratch d;
  setenv("TRIB_TEST_SECRET_KEY", "sk-live-0123456789", 1);
  auto p = hostile(d.path, "environment");
  unsetenv("TRIB_TEST_SECRET_KEY");
  ASSERT_TRUE(p);
  auto r = p->plan({"spot", "price", {{"BTC-USDT", "BTC-USDT"}}});
  ASSERT_EQ(r.requests.size(), 1u);
  EXPECT_EQ(r.requests[0].path, "/");  // no TRIB_TEST_* variable reached it (PATH did: python3 was found)
}
