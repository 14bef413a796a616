// Sleeps 1 ms at a time, pinned where it is started, and prints the wall-clock millisecond and
// the size of every wake-up that comes more than 4 ms late: the moments a thread on that CPU
// could not have run. Beside a server under test (taskset -c 0), it shows whether a slow second
// of deliveries had the server's CPU held up (docs/benchmarks.md, "seventh").
// Usage: bench_timer_stall SECONDS
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s SECONDS\n", argv[0]);
    return 1;
  }
  using clock = std::chrono::steady_clock;
  auto end = clock::now() + std::chrono::seconds(std::atoi(argv[1]));
  while (clock::now() < end) {
    auto before = clock::now();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    auto late = clock::now() - before - std::chrono::milliseconds(1);
    if (late <= std::chrono::milliseconds(4)) continue;
    auto wall = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch());
    std::printf("%lld %.1f\n", static_cast<long long>(wall.count()), std::chrono::duration<double, std::milli>(late).count());
    std::fflush(stdout);
  }
  return 0;
}
