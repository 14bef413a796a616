// Watches the cluster stream bench/fanout feeds, as a follower reads it, and prints each second
// how long its entries took from the feeder's `received` stamp to being added by Redis (the
// millisecond of the entry's id, which Redis stamps as it appends) and to being read here: the
// part of the publish-to-delivery latency that is the feeder's and Redis's, not the server's.
// Run beside a server under test to tell which side a slow second is on (docs/benchmarks.md).
// Usage: bench_fanout_stream_lag HOST PORT NAME SECONDS
#include <hiredis/hiredis.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

int64_t pct(std::vector<int64_t>& v, double q) {
  if (v.empty()) return -1;
  auto k = static_cast<size_t>(q * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

// The `received` stamp of one entry's record field, or -1.
int64_t received_of(const redisReply* fields) {
  for (size_t i = 0; i + 1 < fields->elements; i += 2) {
    if (std::strcmp(fields->element[i]->str, "record") != 0) continue;
    const char* at = std::strstr(fields->element[i + 1]->str, "\"received\":");
    return at ? std::strtoll(at + 11, nullptr, 10) : -1;
  }
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: %s HOST PORT NAME SECONDS\n", argv[0]);
    return 1;
  }
  redisContext* r = redisConnect(argv[1], std::atoi(argv[2]));
  if (!r || r->err) {
    std::fprintf(stderr, "redis: %s\n", r ? r->errstr : "no context");
    return 1;
  }
  std::string key = std::string("tributary:") + argv[3] + ":stream", last = "$";
  int64_t start = now_ms(), tick = start + 1000, seconds = std::atoi(argv[4]);
  std::vector<int64_t> lag, added;
  while (now_ms() - start < seconds * 1000) {
    auto* reply = static_cast<redisReply*>(
        redisCommand(r, "XREAD COUNT 2000 BLOCK 100 STREAMS %s %s", key.c_str(), last.c_str()));
    if (!reply) { std::fprintf(stderr, "redis: %s\n", r->errstr); return 1; }
    int64_t at = now_ms();
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 1) {
      const redisReply* entries = reply->element[0]->element[1];
      for (size_t i = 0; i < entries->elements; ++i) {
        const redisReply* e = entries->element[i];
        last = e->element[0]->str;
        if (int64_t rec = received_of(e->element[1]); rec >= 0) {
          lag.push_back(at - rec);
          added.push_back(std::strtoll(last.c_str(), nullptr, 10) - rec);  // the id is "<ms>-<n>"
        }
      }
    }
    freeReplyObject(reply);
    if (at >= tick) {
      size_t n = lag.size();
      int64_t p50 = pct(lag, 0.5), p99 = pct(lag, 0.99), max = lag.empty() ? -1 : *std::max_element(lag.begin(), lag.end());
      std::printf("{\"t\":%lld,\"entries\":%zu,\"p50_ms\":%lld,\"p99_ms\":%lld,\"max_ms\":%lld,\"added_p99_ms\":%lld}\n",
                  static_cast<long long>(tick / 1000), n, static_cast<long long>(p50), static_cast<long long>(p99),
                  static_cast<long long>(max), static_cast<long long>(pct(added, 0.99)));
      std::fflush(stdout);
      lag.clear();
      added.clear();
      tick += 1000;
    }
  }
  redisFree(r);
  return 0;
}
