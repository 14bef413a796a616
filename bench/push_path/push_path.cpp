// The push path in one thread, without sockets: a Redis pub/sub message of the personal-topic
// benchmark (bench/push/run.py --personal) through the real redis_pubsub plugin (loaded
// through the loader), the intake, the memory broker and delivery (cache, history, hub with no
// sessions): what the stream feed's thread does per message, less the Redis read. Prints ns
// (wall and the thread's CPU) and heap allocations per message. A profiling harness for the
// user-space share of that benchmark: there is no peer to run beside it (the Go peer has no
// separable path).
//
// With BURST, messages come as the server sees them from bench_push_feeder: BURST at a time,
// then 5 ms idle (the feeder's pace), so what the idle core lost from its caches is paid again
// by each burst; cpu_ns_per_message is the figure to compare then.
//
//   bench_push_path PLUGIN_DIR [MESSAGES [USERS [BURST]]]
#include <execinfo.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <new>

#include "ingest/intake.hpp"
#include "obs/log.hpp"
#include "obs/metrics.hpp"
#include "plugin/plugin.hpp"
#include "publish/cache.hpp"
#include "publish/delivery.hpp"
#include "publish/fanout_hub.hpp"
#include "publish/memory_broker.hpp"
#include "server/frames.hpp"

namespace {
std::atomic<long> allocations{0};
std::atomic<long> traced{-1};  // TRIBUTARY_ALLOC_TRACE=N: the stacks of the first N measured allocations

void* counted(size_t n) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (traced.load(std::memory_order_relaxed) > 0 && traced.fetch_sub(1) > 0) {
    void* frames[16];
    backtrace_symbols_fd(frames, backtrace(frames, 16), STDERR_FILENO);
    (void)!write(STDERR_FILENO, "--\n", 3);
  }
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
}  // namespace

void* operator new(size_t n) { return counted(n); }
void* operator new[](size_t n) { return counted(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }

using namespace tributary;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s PLUGIN_DIR [MESSAGES [USERS]]\n", argv[0]);
    return 2;
  }
  int n = argc > 2 ? std::atoi(argv[2]) : 1000000;
  int users = argc > 3 ? std::atoi(argv[3]) : 9000;
  int burst = argc > 4 ? std::atoi(argv[4]) : 0;
  auto lib = plugin_library::load(std::filesystem::path(argv[1]) / "libredis_pubsub.so");
  if (auto* e = std::get_if<std::string>(&lib)) {
    std::fprintf(stderr, "load: %s\n", e->c_str());
    return 1;
  }
  nlohmann::json settings{{"redis_url", "redis://127.0.0.1:1"}, {"channel", "task_status_updates"}, {"subject", "user.{user}.x"}};
  auto made = plugin_instance::create(std::get<std::shared_ptr<plugin_library>>(lib), "tasks", settings, {});
  if (auto* e = std::get_if<fetch_error>(&made)) {
    std::fprintf(stderr, "create: %s\n", e->str().c_str());
    return 1;
  }
  auto& plugin = *std::get<std::unique_ptr<plugin_instance>>(made);
  auto log = make_logger("bench", "off", nullptr);
  metrics m;
  record_cache cache;
  fanout_hub hub(history_options{});
  delivery deliver(cache, &hub);
  memory_broker broker(&update_frame);
  broker.on_publication([&](const std::shared_ptr<const published_record>& p) { deliver.on_publication(p); });
  intake in(broker, m, log);
  feed_request feed{"tasks", "event", {}};

  std::vector<std::string> messages;  // as bench_push_feeder writes them
  for (int u = 0; u < users; ++u)
    messages.push_back(R"({"task_id":"user.)" + std::to_string(u) + R"(.x","user":")" + std::to_string(u) +
                       R"(","status":"running","progress":)" + std::to_string(u % 100) +
                       R"(,"received":1796312489596})");
  long published = 0;
  call_result res;  // kept, as the stream feed keeps it
  long next = 0;  // the message after the last one run
  auto run = [&](int count) {
    for (long i = next; i < next + count; ++i) {
      upstream_message msg("task_status_updates", messages[i % users]);
      msg.received_ms = 1796312489596 + i;
      plugin.parse_message(feed, msg, res);
      for (auto& r : res.records) published += in.publish(std::move(r), {"tasks", "tasks", msg.received_ms}) != nullptr;  // as the stream feed does
    }
    next += count;
  };
  auto thread_cpu_ns = [] {
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec * 1e9 + double(t.tv_nsec);
  };
  run(users * 3);  // every topic made, pools and rings filled
  void* warm[1];
  backtrace(warm, 1);  // loads what backtrace needs before anything is traced
  if (const char* v = std::getenv("TRIBUTARY_ALLOC_TRACE")) traced = std::atol(v);
  long a0 = allocations.load();
  auto t0 = std::chrono::steady_clock::now();
  double c0 = thread_cpu_ns();
  for (int done = 0; done < n; done += burst > 0 ? burst : n) {
    if (done > 0) usleep(5000);
    run(burst > 0 ? std::min(burst, n - done) : n);
  }
  double cpu_ns = (thread_cpu_ns() - c0) / n;
  double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count() / n;
  double allocs = double(allocations.load() - a0) / n;
  std::printf("{\"messages\": %d, \"users\": %d, \"burst\": %d, \"ns_per_message\": %.0f, \"cpu_ns_per_message\": %.0f, "
              "\"allocations_per_message\": %.2f, \"published\": %ld}\n",
              n, users, burst, ns, cpu_ns, allocs, published);
  return published == long(users) * 3 + n ? 0 : 1;
}
