// Stream publish throughput of the cluster sink's fenced write (one EVAL per record: epoch check,
// XADD MAXLEN ~, SET latest PX) against a real redis-server, beside redis-benchmark's plain
// XADD on the same server in the same run.
//   bench_stream_publish [records] [redis port]   (starts its own redis-server when no port)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "../tests/support/redis_server.hpp"
#include "sink/fenced_writer.hpp"
#include "publish/published.hpp"

using namespace tributary;

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 20000;
  std::unique_ptr<test_support::redis_server> own;
  int port = argc > 2 ? std::atoi(argv[2]) : 0;
  if (!port) {
    own = std::make_unique<test_support::redis_server>();
    port = own->port();
  }
  redis_endpoint ep{"127.0.0.1", port, "", "", 0};
  redis_client c(ep, millis(2000));
  c.command({"SET", "tributary:bench:epoch", "1"});
  fenced_writer w(c, "bench", 10000, millis(3600000));
  record r;
  r.kind = "price";
  r.subject = "BTC-USDT";
  r.source = "binance";
  r.feed = "spot";
  r.data = {{"price", 84250.12}, {"change_24h", 1338.67}, {"change_24h_pct", 1.615}, {"volume_24h", 15234.5}};
  auto start = std::chrono::steady_clock::now();
  for (int i = 1; i <= n; ++i) {
    r.seq = static_cast<uint64_t>(i);
    r.subject = i % 2 ? "BTC-USDT" : "ETH-USDT";
    if (w.write(1, *published_record::make(r)) != fenced_writer::result::written) {
      std::fprintf(stderr, "write %d failed\n", i);
      return 1;
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double ours = n / secs;
  size_t bytes = published_record::make(r)->json.size();

  // The peer: redis-benchmark's XADD, one connection, no pipelining (like the sink), same payload size.
  std::string cmd = "redis-benchmark -h 127.0.0.1 -p " + std::to_string(port) + " -c 1 -n " + std::to_string(n) +
                    " -q --csv XADD tributary:bench:peer MAXLEN '~' 10000 '*' record " + std::string(bytes, 'x') + " 2>/dev/null";
  double peer = 0;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char line[512];
    while (std::fgets(line, sizeof line, p)) {
      std::string l(line);
      auto comma = l.find("\",\"");
      if (l.rfind("\"XADD", 0) == 0 && comma != std::string::npos) peer = std::atof(l.c_str() + comma + 3);
    }
    pclose(p);
  }
  std::printf("records=%d record_bytes=%zu\n", n, bytes);
  std::printf("tributary_fenced_write_per_s=%.0f\n", ours);
  std::printf("redis_benchmark_xadd_per_s=%.0f\n", peer);
  if (peer > 0) std::printf("ratio=%.2f\n", ours / peer);
  return 0;
}
