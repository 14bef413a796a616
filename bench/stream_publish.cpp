// Stream publish throughput of the cluster leader's fenced write (epoch check, XADD MAXLEN ~,
// SET latest PX, HSET seqs: one script run) against a real redis-server, beside
// redis-benchmark's plain XADD on the same server in the same run: one record per round trip
// (the writer with one record buffered), then batches of 64 (the writer under load: its
// buffer's front in one script run) against redis-benchmark pipelining 64.
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
  std::vector<std::shared_ptr<const published_record>> recs;
  for (int i = 1; i <= n; ++i) {
    r.seq = static_cast<uint64_t>(i);
    r.subject = i % 2 ? "BTC-USDT" : "ETH-USDT";
    recs.push_back(published_record::make(r));
  }
  size_t bytes = recs[0]->json.size();
  auto rate = [&](size_t batch, uint64_t epoch) {
    c.command({"SET", "tributary:bench:epoch", std::to_string(epoch)});
    c.command({"DEL", "tributary:bench:seqs"});
    std::vector<const published_record*> ptrs;
    std::vector<fenced_writer::outcome> out;
    auto start = std::chrono::steady_clock::now();
    for (size_t i = 0; i < recs.size(); i += batch) {
      ptrs.clear();
      for (size_t j = i; j < std::min(recs.size(), i + batch); ++j) ptrs.push_back(recs[j].get());
      bool ok = w.write_batch(epoch, ptrs, out) == fenced_writer::result::written;
      for (auto& o : out) ok = ok && o.res == fenced_writer::result::written;
      if (!ok) {
        std::fprintf(stderr, "batch at %zu not written\n", i);
        std::exit(1);
      }
    }
    return double(recs.size()) / std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  // The peer: redis-benchmark's XADD, one connection, same payload size; pipelined `pipeline` deep.
  auto peer = [&](int pipeline) {
    std::string cmd = "redis-benchmark -h 127.0.0.1 -p " + std::to_string(port) + " -c 1 -P " + std::to_string(pipeline) + " -n " +
                      std::to_string(n) + " -q --csv XADD tributary:bench:peer MAXLEN '~' 10000 '*' record " + std::string(bytes, 'x') +
                      " 2>/dev/null";
    double got = 0;
    if (FILE* p = popen(cmd.c_str(), "r")) {
      char line[512];
      while (std::fgets(line, sizeof line, p)) {
        std::string l(line);
        auto comma = l.find("\",\"");
        if (l.rfind("\"XADD", 0) == 0 && comma != std::string::npos) got = std::atof(l.c_str() + comma + 3);
      }
      pclose(p);
    }
    return got;
  };
  double one = rate(1, 1), one_peer = peer(1), many = rate(64, 2), many_peer = peer(64);
  std::printf("records=%d record_bytes=%zu\n", n, bytes);
  std::printf("tributary_fenced_write_per_s=%.0f\n", one);
  std::printf("redis_benchmark_xadd_per_s=%.0f\n", one_peer);
  if (one_peer > 0) std::printf("ratio=%.2f\n", one / one_peer);
  std::printf("tributary_fenced_write_batch64_per_s=%.0f\n", many);
  std::printf("redis_benchmark_xadd_pipeline64_per_s=%.0f\n", many_peer);
  if (many_peer > 0) std::printf("batch64_ratio=%.2f\n", many / many_peer);
  return 0;
}
