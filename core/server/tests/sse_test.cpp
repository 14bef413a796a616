// Server-Sent Events over a raw socket (docs/protocol.md, Server-Sent Events): the stream's
// shape, heartbeats, the cursor in `id:` and resuming every topic with Last-Event-ID, the same
// authorization as WebSocket, and hostile requests.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <vector>

#include "../../../tests/support/jwt_sign.hpp"
#include "../../../tests/support/running_server.hpp"
#include "../../../tests/support/ws_client.hpp"

namespace tributary {
namespace {

using namespace test_support;
using nlohmann::json;
using ::testing::HasSubstr;

struct sse_event {
  std::string event, id, data;
  bool comment = false;
};

// A client that reads an event stream the way EventSource does, over a plain socket.
class sse_reader {
 public:
  sse_reader(unsigned short port, const std::string& target, const std::string& extra_headers = "") {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    ::inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    timeval tv{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("connect");
    std::string req = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n" + extra_headers + "\r\n";
    ::send(fd_, req.data(), req.size(), MSG_NOSIGNAL);
    auto end = read_until("\r\n\r\n");
    head = buf_.substr(0, end);
    buf_.erase(0, end + 4);
  }
  ~sse_reader() { ::close(fd_); }
  int status() const { return std::stoi(head.substr(9, 3)); }
  // The rest of a short answer (an error's body).
  std::string body() {
    char b[4096];
    ssize_t n;
    while ((n = ::recv(fd_, b, sizeof b, 0)) > 0) buf_.append(b, n);
    return buf_;
  }
  sse_event next() {
    auto end = read_until("\n\n");
    std::string block = buf_.substr(0, end);
    buf_.erase(0, end + 2);
    sse_event e;
    for (size_t at = 0; at <= block.size();) {
      auto nl = block.find('\n', at);
      auto line = block.substr(at, nl == std::string::npos ? std::string::npos : nl - at);
      if (line.rfind(':', 0) == 0) e.comment = true;
      else if (line.rfind("event: ", 0) == 0) e.event = line.substr(7);
      else if (line.rfind("id: ", 0) == 0) e.id = line.substr(4);
      else if (line.rfind("data: ", 0) == 0) e.data = line.substr(6);
      if (nl == std::string::npos) break;
      at = nl + 1;
    }
    return e;
  }
  // The next snapshot or update, skipping comments and the retry line.
  sse_event next_record() {
    for (;;) {
      auto e = next();
      if (e.event == "snapshot" || e.event == "update") return e;
    }
  }
  std::string head;

 private:
  size_t read_until(const std::string& mark) {
    for (;;) {
      if (auto at = buf_.find(mark); at != std::string::npos) return at;
      char b[4096];
      ssize_t n = ::recv(fd_, b, sizeof b, 0);
      if (n <= 0) throw std::runtime_error("the stream ended or timed out; read so far: " + buf_.substr(0, 200));
      buf_.append(b, n);
    }
  }
  int fd_;
  std::string buf_;
};

json record_of(const sse_event& e) { return json::parse(e.data); }

TEST(Sse, SnapshotsThenUpdatesWithACursorOverEveryTopic) {
  running_server s;
  s.publish("BTC-USDT", 1);
  s.publish("ETH-USDT", 2);
  sse_reader r(s.port, "/sse?topics=price.*");
  EXPECT_EQ(r.status(), 200);
  EXPECT_THAT(r.head, HasSubstr("Content-Type: text/event-stream"));
  std::map<std::string, uint64_t> seen;
  for (int i = 0; i < 2; ++i) {
    auto e = r.next_record();
    EXPECT_EQ(e.event, "snapshot");
    auto m = record_of(e);
    EXPECT_EQ(m["type"], "snapshot");  // the WebSocket frame's JSON
    seen[m["topic"]] = m["record"]["seq"];
  }
  EXPECT_EQ(seen.size(), 2u);
  s.publish("BTC-USDT", 3);
  auto u = r.next_record();
  EXPECT_EQ(u.event, "update");
  EXPECT_EQ(record_of(u)["record"]["data"]["price"], 3);
  EXPECT_THAT(u.id, HasSubstr("price.BTC-USDT=2"));
  EXPECT_THAT(u.id, HasSubstr("price.ETH-USDT=1"));  // the cursor covers every topic delivered
}

// Reconnecting with Last-Event-ID (header or query) resumes every topic: what was missed, in
// order, nothing twice and no snapshot of what the client has.
TEST(Sse, LastEventIdResumesEveryTopicWithoutAGapOrARepeat) {
  running_server s;
  for (int i = 1; i <= 3; ++i) s.publish("BTC-USDT", i), s.publish("ETH-USDT", i);
  std::string id;
  {
    sse_reader r(s.port, "/sse?topics=price.BTC-USDT,price.ETH-USDT");
    r.next_record();
    id = r.next_record().id;
  }
  for (int i = 4; i <= 6; ++i) s.publish("BTC-USDT", i), s.publish("ETH-USDT", i);
  s.publish("SOL-USDT", 1);  // not asked for
  for (std::string how : {"header", "query"}) {
    std::unique_ptr<sse_reader> r;
    if (how == "header") r = std::make_unique<sse_reader>(s.port, "/sse?topics=price.BTC-USDT,price.ETH-USDT", "Last-Event-ID: " + id + "\r\n");
    else r = std::make_unique<sse_reader>(s.port, "/sse?topics=price.BTC-USDT,price.ETH-USDT&last_event_id=" + id);
    std::map<std::string, std::vector<uint64_t>> got;
    for (int i = 0; i < 6; ++i) {
      auto e = r->next_record();
      EXPECT_EQ(e.event, "update") << how;
      auto m = record_of(e);
      got[m["topic"]].push_back(m["record"]["seq"]);
    }
    EXPECT_EQ(got["price.BTC-USDT"], (std::vector<uint64_t>{4, 5, 6})) << how;
    EXPECT_EQ(got["price.ETH-USDT"], (std::vector<uint64_t>{4, 5, 6})) << how;
  }
  // A cursor of another history (a restarted server) or a mangled one: snapshots.
  for (std::string bad : std::vector<std::string>{"0123456789abcdef~price.BTC-USDT=2", "garbage", "~=,", std::string(3000, '=')}) {
    sse_reader r(s.port, "/sse?topics=price.BTC-USDT", "Last-Event-ID: " + bad + "\r\n");
    auto e = r.next_record();
    EXPECT_EQ(e.event, "snapshot") << bad;
    EXPECT_EQ(record_of(e)["record"]["seq"], 6) << bad;
  }
}

// Streams on one I/O thread are written together, in one batch per delivery slice: each gets
// every update in order, and one that stops reading is closed without holding up the others.
TEST(Sse, StreamsOnOneThreadGetEveryUpdateAndASlowOneIsClosedAlone) {
  server_options o;
  o.queue_limit_bytes = 1 << 20;
  o.slow_consumer = slow_policy::close;
  o.io_threads = 1;
  running_server s(o);
  const std::string target = "/sse?topics=sentiment.fear_greed";
  std::vector<std::unique_ptr<sse_reader>> fast;
  for (int i = 0; i < 2; ++i) fast.push_back(std::make_unique<sse_reader>(s.port, target));
  sse_reader slow(s.port, target);  // never reads its events
  for (int i = 0; i < 2; ++i) fast.push_back(std::make_unique<sse_reader>(s.port, target));
  std::string big(200000, 'x');
  for (int i = 0; i < 200; ++i) {
    s.publish_sentiment(i, big);
    for (auto& f : fast) ASSERT_EQ(record_of(f->next_record())["record"]["seq"], i + 1);  // every one, in order
  }
  EXPECT_EQ(s.m.value("tributary_ws_drops_total", {{"reason", "slow_consumer"}}), 1);
  // Closed: what it had been sent, then the end of the stream, well short of 200 updates.
  auto rest = slow.body();
  EXPECT_LT(rest.size(), 100u * big.size());
}

TEST(Sse, HeartbeatsAreCommentLines) {
  server_options o;
  o.heartbeat = millis(100);
  running_server s(o);
  sse_reader r(s.port, "/sse?topics=price.*");
  sse_event e;
  for (int i = 0; i < 5 && !e.comment; ++i) e = r.next();
  EXPECT_TRUE(e.comment);
}

// The same rules as WebSocket: a pattern the caller may not use is refused before the stream
// starts; a token by query or header opens its user's topics; a bad one is 401.
TEST(Sse, AuthorizationIsTheWebSocketsAndBadRequestsAreRefused) {
  const std::string secret = "sse-secret-0123456789-abcdefghijkl";
  server_options o;
  o.auth = true;
  o.jwt.secret = secret;
  o.public_patterns = {"price.*"};
  running_server s(o);
  record ev;
  ev.kind = "event";
  ev.subject = "user.alice:40example:2Ecom.orders";
  ev.source = ev.feed = "orders";
  ev.data = {{"id", 1}};
  s.out.publish(ev);
  auto token = sign({{"sub", "alice@example.com"}, {"exp", unix_now() + 600}}, "HS256", secret);
  const std::string mine = "event.user.alice:40example:2Ecom.orders";
  EXPECT_EQ(sse_reader(s.port, "/sse?topics=" + mine).status(), 403);
  sse_reader by_query(s.port, "/sse?topics=" + mine + "&token=" + token);
  EXPECT_EQ(by_query.status(), 200);
  EXPECT_EQ(record_of(by_query.next_record())["topic"], mine);
  sse_reader by_header(s.port, "/sse?topics=event.*", "Authorization: bearer " + token + "\r\n");
  EXPECT_EQ(record_of(by_header.next_record())["topic"], mine);  // its own, through a wildcard
  auto bob = sign({{"sub", "bob"}, {"exp", unix_now() + 600}}, "HS256", secret);
  EXPECT_EQ(sse_reader(s.port, "/sse?topics=" + mine + "&token=" + bob).status(), 403);
  sse_reader bad_token(s.port, "/sse?topics=price.*&token=nope", "Connection: close\r\n");
  EXPECT_EQ(bad_token.status(), 401);
  EXPECT_THAT(bad_token.body(), HasSubstr("unauthorized"));
  for (std::string t : {"/sse", "/sse?topics=", "/sse?topics=a%20b", "/sse?topics=*x", "/sse?topics=%00"})
    EXPECT_EQ(sse_reader(s.port, t).status(), 400) << t;
  // Still serving.
  EXPECT_EQ(http_get(s.port, "/health").status, 200);
}

}  // namespace
}  // namespace tributary
