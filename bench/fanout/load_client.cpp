// WebSocket load client for bench/fanout: one thread, epoll, N connections. Each connection
// upgrades, subscribes (broadcast: every connection to one pattern; personal: connection i to
// its own topic), then counts update frames and measures publish-to-delivery latency from the
// record's "received" field (set by the feeder when it appends to the stream), or the field
// named by LATENCY_FIELD (bench/push: "ts", the upstream event's own time).
//
// PATTERN may list several topics, comma-separated (broadcast: every connection subscribes to
// all of them). With the last argument `deflate`, every connection offers permessage-deflate
// and inflates each compressed message with a window it keeps, as a browser does (RFC 7692: a
// server that keeps its context refers back to earlier messages). "bad" counts messages that
// did not inflate.
//
// Prints one JSON line per second: {"t":..,"deliveries":..,"p50_ms":..,"p99_ms":..,"max_ms":..,
// "busy_max_ms":..,"latency_ms":[[ms,count],..],"open":..,"wire_bytes":..,"payload_bytes":..,
// "compressed":..}: the latency of one delivery in eight (its percentiles, its worst, and all of
// it by millisecond), the longest pass over one epoll_wait's events, bytes read from the sockets
// after the upgrade, the messages' bytes once inflated, and how many messages came compressed.
// Mode `dialect`: PATTERN is the dialect's path, each connection sends the trading dialect's
// {"type":"subscribe","data":{"channel":"prices"}} and counts its price_update messages.
// Usage: bench_fanout_client PORT CONNS broadcast|personal|idle|dialect SECONDS [PATTERN [LATENCY_FIELD [deflate]]]
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string masked(uint8_t op, std::string_view payload) {
  std::string f;
  f.push_back(static_cast<char>(0x80 | op));
  if (payload.size() < 126) {
    f.push_back(static_cast<char>(0x80 | payload.size()));
  } else {
    f.push_back(static_cast<char>(0x80 | 126));
    f.push_back(static_cast<char>(payload.size() >> 8));
    f.push_back(static_cast<char>(payload.size() & 0xFF));
  }
  f.append("\0\0\0\0", 4);  // a zero mask: valid, and the payload goes as is
  f.append(payload);
  return f;
}

struct inflater;

struct conn {
  int fd = -1;
  bool upgraded = false;
  std::string in;
  std::string sub;
  std::unique_ptr<inflater> inflate;  // made at its first compressed message
};

std::string subscribe_message(const std::string& topics) {
  std::string list;
  size_t from = 0;
  for (;;) {
    auto comma = topics.find(',', from);
    list += (list.empty() ? "\"" : ",\"") + topics.substr(from, comma - from) + "\"";
    if (comma == std::string::npos) break;
    from = comma + 1;
  }
  return R"({"type":"subscribe","topics":[)" + list + "]}";
}

// A connection's raw inflater. It keeps its window from one message to the next, as a browser's
// does: a server that keeps its compression context (no server_no_context_takeover in its
// answer) may refer back to earlier messages; one that does not, never does.
struct inflater {
  z_stream z{};
  inflater() { inflateInit2(&z, -15); }
  ~inflater() { inflateEnd(&z); }
  // The message, inflated into the shared buffer; empty when it does not inflate.
  std::string_view inflate(std::string_view in) {
    static std::string out(1 << 20, '\0');
    static const unsigned char tail[4] = {0x00, 0x00, 0xFF, 0xFF};
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = static_cast<uInt>(in.size());
    int rc = ::inflate(&z, Z_SYNC_FLUSH);
    z.next_in = const_cast<Bytef*>(tail);
    z.avail_in = 4;
    if (rc == Z_OK || rc == Z_BUF_ERROR) rc = ::inflate(&z, Z_SYNC_FLUSH);
    if (rc != Z_OK && rc != Z_BUF_ERROR) return {};
    return {out.data(), out.size() - z.avail_out};
  }
};

std::string latency_key = "\"received\":";  // "\"<LATENCY_FIELD>\":"

struct stats {
  uint64_t deliveries = 0;
  uint64_t wire_bytes = 0;
  uint64_t payload_bytes = 0;
  uint64_t compressed = 0;
  uint64_t bad = 0;
  int64_t busy_max_ms = 0;  // the longest pass over one epoll_wait's events
  std::vector<int64_t> lat;
};

void handle_frame(conn& c, uint8_t op, bool rsv1, std::string_view payload, stats& st) {
  if (rsv1) {
    ++st.compressed;
    if (!c.inflate) c.inflate = std::make_unique<inflater>();
    payload = c.inflate->inflate(payload);
    if (payload.empty()) { ++st.bad; return; }
  }
  st.payload_bytes += payload.size();
  if (op == 9) {  // ping: answer it, as any client library would
    auto pong = masked(10, payload);
    (void)!::send(c.fd, pong.data(), pong.size(), MSG_NOSIGNAL);
    return;
  }
  // Both servers put "type" first: a prefix test, not a scan, keeps the client cheap. The
  // trading dialect's envelope has it after a short "id".
  static constexpr std::string_view update = "{\"type\":\"update\"", dialect_update = "\"type\":\"price_update\"";
  if (op != 1) return;
  if (payload.substr(0, update.size()) != update && payload.substr(0, 96).find(dialect_update) == std::string_view::npos) return;
  if (++st.deliveries % 8 != 0) return;  // latency: one delivery in eight is plenty of samples
  auto at = payload.rfind(latency_key);
  if (at == std::string_view::npos) return;
  int64_t rec = std::strtoll(payload.data() + at + latency_key.size(), nullptr, 10);
  st.lat.push_back(now_ms() - rec);
}

// Parses the frames complete in c.in; returns false when the connection is to be dropped.
void consume(conn& c, stats& st) {
  size_t i = 0;
  auto& b = c.in;
  if (!c.upgraded) {
    auto end = b.find("\r\n\r\n");
    if (end == std::string::npos) return;
    c.upgraded = true;
    i = end + 4;
    st.wire_bytes += b.size() - i;  // the rest of what this read brought
    auto f = masked(1, c.sub);
    if (!c.sub.empty()) (void)!::send(c.fd, f.data(), f.size(), MSG_NOSIGNAL);
  }
  while (i + 2 <= b.size()) {
    uint8_t op = b[i] & 0x0F;
    bool rsv1 = (b[i] & 0x40) != 0;
    uint64_t len = static_cast<uint8_t>(b[i + 1]) & 0x7F;
    size_t hdr = 2;
    if (len == 126) {
      if (i + 4 > b.size()) break;
      len = (uint8_t(b[i + 2]) << 8) | uint8_t(b[i + 3]);
      hdr = 4;
    } else if (len == 127) {
      if (i + 10 > b.size()) break;
      len = 0;
      for (int k = 0; k < 8; ++k) len = (len << 8) | uint8_t(b[i + 2 + k]);
      hdr = 10;
    }
    if (i + hdr + len > b.size()) break;
    handle_frame(c, op, rsv1, std::string_view(b).substr(i + hdr, len), st);
    i += hdr + len;
  }
  b.erase(0, i);
}

int64_t pct(std::vector<int64_t>& v, double p) {
  if (v.empty()) return -1;
  size_t k = std::min(v.size() - 1, static_cast<size_t>(p * v.size()));
  std::nth_element(v.begin(), v.begin() + k, v.end());
  return v[k];
}

// The samples as [[ms, count], ...], by ms: the runner merges seconds into a window's tail.
std::string histogram(std::vector<int64_t>& v) {
  std::sort(v.begin(), v.end());
  std::string out = "[";
  for (size_t i = 0; i < v.size();) {
    size_t j = i;
    while (j < v.size() && v[j] == v[i]) ++j;
    out += (i ? ",[" : "[") + std::to_string(v[i]) + "," + std::to_string(j - i) + "]";
    i = j;
  }
  return out + "]";
}

}  // namespace

// Connection i's own topic: PATTERN with {i} replaced (default price.P{i}-USDT, the feeder's).
std::string personal_topic(const std::string& pattern, int i) {
  std::string p = pattern.find("{i}") == std::string::npos ? "price.P{i}-USDT" : pattern;
  return p.replace(p.find("{i}"), 3, std::to_string(i));
}

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: %s PORT CONNS broadcast|personal|idle SECONDS [PATTERN [LATENCY_FIELD]]\n", argv[0]);
    return 1;
  }
  int port = std::atoi(argv[1]), n = std::atoi(argv[2]);
  std::string mode = argv[3];
  int seconds = std::atoi(argv[4]);
  std::string pattern = argc > 5 ? argv[5] : "price.*";
  if (argc > 6) latency_key = "\"" + std::string(argv[6]) + "\":";
  bool deflate = argc > 7 && std::string_view(argv[7]) == "deflate";
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  int ep = epoll_create1(0);
  std::vector<conn> conns(n);
  const std::string path = mode == "dialect" ? pattern : "/ws";
  const std::string upgrade =
      "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
      std::string(deflate ? "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" : "") + "\r\n";
  for (int i = 0; i < n; ++i) {
    auto& c = conns[i];
    c.fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (c.fd < 0) { std::perror("socket"); return 1; }
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(c.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) { std::perror("connect"); return 1; }
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    // Reset, not closed, when the client ends: no TIME_WAIT left behind. Thousands of them in
    // the kernel's tables made the next server measured (another peer) pay for this run.
    linger reset{1, 0};
    setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    fcntl(c.fd, F_SETFL, O_NONBLOCK);
    if (mode == "broadcast") c.sub = subscribe_message(pattern);
    else if (mode == "dialect") c.sub = R"({"type":"subscribe","data":{"channel":"prices"}})";
    else if (mode == "personal") c.sub = R"({"type":"subscribe","topics":[")" + personal_topic(pattern, i) + R"("]})";
    (void)!::send(c.fd, upgrade.data(), upgrade.size(), MSG_NOSIGNAL);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<uint32_t>(i);
    epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
    if (i % 500 == 499) usleep(20000);  // do not overflow the listen backlog
  }
  stats st;
  std::vector<epoll_event> evs(1024);
  static char buf[1 << 16];
  int64_t start = now_ms(), tick = start + 1000;
  bool announced = false;
  while (now_ms() - start < seconds * 1000LL) {
    int k = epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), 50);
    int64_t woke = now_ms();
    for (int e = 0; e < k; ++e) {
      auto& c = conns[evs[e].data.u32];
      for (;;) {
        ssize_t r = ::recv(c.fd, buf, sizeof buf, 0);
        if (r <= 0) {
          if (r == 0 || (errno != EAGAIN && errno != EINTR)) { epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr); ::close(c.fd); c.fd = -1; }
          break;
        }
        if (c.upgraded) st.wire_bytes += static_cast<uint64_t>(r);
        c.in.append(buf, static_cast<size_t>(r));
        consume(c, st);
      }
    }
    st.busy_max_ms = std::max(st.busy_max_ms, now_ms() - woke);
    if (!announced && std::all_of(conns.begin(), conns.end(), [](const conn& c) { return c.upgraded || c.fd < 0; })) {
      announced = true;
      std::printf("{\"ready\":true,\"open\":%zu}\n", static_cast<size_t>(std::count_if(conns.begin(), conns.end(), [](auto& c) { return c.fd >= 0; })));
      std::fflush(stdout);
    }
    if (now_ms() >= tick) {
      size_t open = std::count_if(conns.begin(), conns.end(), [](auto& c) { return c.fd >= 0; });
      std::printf("{\"t\":%lld,\"deliveries\":%llu,\"p50_ms\":%lld,\"p99_ms\":%lld,\"max_ms\":%lld,\"busy_max_ms\":%lld,\"latency_ms\":%s,\"open\":%zu,"
                  "\"wire_bytes\":%llu,\"payload_bytes\":%llu,\"compressed\":%llu,\"bad\":%llu}\n",
                  static_cast<long long>(tick / 1000), static_cast<unsigned long long>(st.deliveries),
                  static_cast<long long>(pct(st.lat, 0.5)), static_cast<long long>(pct(st.lat, 0.99)),
                  static_cast<long long>(st.lat.empty() ? -1 : *std::max_element(st.lat.begin(), st.lat.end())),
                  static_cast<long long>(st.busy_max_ms), histogram(st.lat).c_str(), open,
                  static_cast<unsigned long long>(st.wire_bytes), static_cast<unsigned long long>(st.payload_bytes),
                  static_cast<unsigned long long>(st.compressed), static_cast<unsigned long long>(st.bad));
      std::fflush(stdout);
      st = stats{};
      tick += 1000;
    }
  }
  return 0;
}
