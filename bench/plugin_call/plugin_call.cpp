// What isolation costs per call: the binance plugin parsing the demo ticker cassette (7
// symbols, 3.9 KB) in this process, then in a child process (`tributary plugin-host`), through
// the same plugin_instance API the feed runner uses. Prints µs per call for each, the time
// isolation adds, and the ratio.
//
//   bench_plugin_call TRIBUTARY_EXE PLUGIN_DIR CASSETTE [CALLS [isolated]]
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "plugin/abi_backend.hpp"
#include "plugin/process_backend.hpp"

using namespace tributary;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kSymbols{"BTC-USDT", "ETH-USDT", "SOL-USDT", "XRP-USDT", "ADA-USDT", "LINK-USDT", "BNB-USDT"};

struct timing {
  double us_per_call = 0;
  double host_cpu_us = 0;  // CPU of the calling thread per call (it polls for the answer a while)
  size_t records = 0;
};

double thread_cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

timing measure(plugin_instance& p, const http_response& resp, int calls) {
  feed_request f{"spot", "price", {}};
  for (auto& s : kSymbols) f.subjects.emplace_back(s, std::get<std::string>(p.map_subject("price", s)));
  auto plan = p.plan(f);
  if (plan.requests.empty()) std::abort();
  timing t;
  for (int i = 0; i < calls / 10; ++i) p.parse(f, plan.requests[0], resp);  // warm up
  auto t0 = std::chrono::steady_clock::now();
  double cpu0 = thread_cpu_us();
  for (int i = 0; i < calls; ++i) t.records += p.parse(f, plan.requests[0], resp).records.size();
  auto dt = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
  t.host_cpu_us = (thread_cpu_us() - cpu0) / calls;
  t.us_per_call = dt / calls;
  t.records /= calls;
  return t;
}

// The smallest call there is (map_subject): what one round trip to the child costs by itself.
double round_trip_us(plugin_instance& p, int calls) {
  for (int i = 0; i < calls / 10; ++i) p.map_subject("price", "BTC-USDT");
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < calls; ++i) p.map_subject("price", "BTC-USDT");
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / calls;
}

std::unique_ptr<plugin_instance> instance(std::unique_ptr<plugin_backend> b) {
  auto made = plugin_instance::create(std::move(b), "binance", json::object(), {});
  if (auto* e = std::get_if<fetch_error>(&made)) {
    std::fprintf(stderr, "create: %s\n", e->str().c_str());
    std::exit(1);
  }
  return std::move(std::get<std::unique_ptr<plugin_instance>>(made));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s TRIBUTARY_EXE PLUGIN_DIR CASSETTE [CALLS]\n", argv[0]);
    return 2;
  }
  fs::path lib = fs::path(argv[2]) / "libbinance.so";
  int calls = argc > 4 ? std::atoi(argv[4]) : 20000;
  std::ifstream in(argv[3]);
  std::stringstream ss;
  ss << in.rdbuf();
  auto cassette = json::parse(ss.str());
  http_response resp;
  resp.status = 200;
  resp.headers = {{"Content-Type", "application/json;charset=UTF-8"}, {"X-MBX-USED-WEIGHT-1M", "42"}};
  resp.body = cassette["response"]["body"].dump();
  resp.received_ms = 1773153015123;

  auto loaded = plugin_library::load(lib);
  if (auto* e = std::get_if<std::string>(&loaded)) return std::fprintf(stderr, "%s\n", e->c_str()), 1;
  auto local = instance(std::make_unique<abi_backend>(std::get<std::shared_ptr<plugin_library>>(loaded)));
  auto isolated = [&](int64_t spin_us) {
    process_options o;
    o.child.argv = {argv[1], "plugin-host", lib.string()};
    o.spin_us = spin_us;
    auto started = process_backend::start(o);
    if (auto* e = std::get_if<std::string>(&started)) std::fprintf(stderr, "%s\n", e->c_str()), std::exit(1);
    return instance(std::move(std::get<std::unique_ptr<process_backend>>(started)));
  };
  auto remote = isolated(process_options{}.spin_us);
  auto sleeper = isolated(0);  // waits for each answer in poll() at once

  bool only_isolated = argc > 5 && std::string(argv[5]) == "isolated";  // for a profile of that side alone
  auto a = only_isolated ? timing{} : measure(*local, resp, calls);
  auto b = measure(*remote, resp, calls);
  auto c = only_isolated ? timing{} : measure(*sleeper, resp, calls);
  std::printf("binance parse, %zu records from a %zu-byte body, %d calls each\n", a.records, resp.body.size(), calls);
  std::printf("  in process          %8.2f us/call (calling thread's CPU %.2f us)\n", a.us_per_call, a.host_cpu_us);
  std::printf("  isolation=process   %8.2f us/call (calling thread's CPU %.2f us)\n", b.us_per_call, b.host_cpu_us);
  std::printf("  added by isolation  %8.2f us/call (target <= 50)\n", b.us_per_call - a.us_per_call);
  std::printf("  ratio               %8.2fx\n", b.us_per_call / a.us_per_call);
  std::printf("  without polling     %8.2f us/call (calling thread's CPU %.2f us): %.2f us added\n", c.us_per_call, c.host_cpu_us,
              c.us_per_call - a.us_per_call);
  double local_rt = round_trip_us(*local, calls), remote_rt = round_trip_us(*remote, calls), sleep_rt = round_trip_us(*sleeper, calls);
  std::printf("map_subject (the smallest call): in process %.2f us, isolated %.2f us (without polling %.2f us)\n", local_rt, remote_rt,
              sleep_rt);
  return only_isolated || b.records == a.records ? 0 : 1;
}
