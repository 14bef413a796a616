// Delivery, ordering, recovery, slow consumers and hostile input, over real sockets.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <poll.h>
#include <sys/resource.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "../../../tests/support/raw_ws.hpp"
#include "../../../tests/support/running_server.hpp"
#include "../../../tests/support/ws_client.hpp"

using namespace tributary;
using namespace tributary::test_support;
using json = nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

// Reads messages until `pred` holds for one; returns it. Records every record seen in `seen`.
struct reader {
  ws_client& c;
  std::map<std::string, std::vector<uint64_t>> seen;
  json until(const std::function<bool(const json&)>& pred) {
    for (;;) {
      auto m = c.read();
      if (m["type"] == "update" || m["type"] == "snapshot") seen[m["topic"]].push_back(m["record"]["seq"]);
      if (pred(m)) return m;
    }
  }
  json until_type(const std::string& t) { return until([&](const json& m) { return m["type"] == t; }); }
};

void expect_increasing(const std::map<std::string, std::vector<uint64_t>>& seen) {
  for (auto& [topic, seqs] : seen)
    for (size_t i = 1; i < seqs.size(); ++i) ASSERT_LT(seqs[i - 1], seqs[i]) << topic << " at " << i;
}

record big_record(const std::string& subject, size_t bytes) {
  record r;
  r.kind = "sentiment";
  r.subject = subject;
  r.data = {{"value", 1}, {"classification", std::string(bytes, 'x')}};
  return r;
}

size_t open_fds() {
  size_t n = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

}  // namespace

TEST(WsDelivery, PersonalTopicsReachOnlyTheirOwnSessionAcrossIoThreads) {
  server_options o;
  o.io_threads = 2;
  running_server s(o);
  std::vector<std::unique_ptr<ws_client>> clients;
  for (int i = 0; i < 40; ++i) {
    clients.push_back(std::make_unique<ws_client>(s.port));
    clients.back()->read();
    clients.back()->send(R"({"type":"subscribe","id":1,"topics":["price.U)" + std::to_string(i) + R"(-USDT"]})");
    EXPECT_EQ(clients.back()->read()["type"], "subscribed");
  }
  for (int round = 1; round <= 3; ++round)
    for (int i = 0; i < 40; ++i) s.publish("U" + std::to_string(i) + "-USDT", round * 1000 + i);
  for (int i = 0; i < 40; ++i) {
    for (int round = 1; round <= 3; ++round) {
      auto u = clients[i]->read();
      ASSERT_EQ(u["topic"], "price.U" + std::to_string(i) + "-USDT");
      EXPECT_EQ(u["record"]["seq"], round);
      EXPECT_EQ(u["record"]["data"]["price"], round * 1000 + i);
    }
    clients[i]->send(R"({"type":"ping","id":9})");
    EXPECT_EQ(clients[i]->read()["type"], "pong");  // nothing of anybody else's came first
  }
  EXPECT_EQ(s.m.value("tributary_io_threads"), 2);
}

TEST(WsDelivery, NoSeqTwiceOrBackwardsAcrossSnapshotLiveUnsubscribeAndResubscribe) {
  server_options o;
  o.io_threads = 2;
  running_server s(o);
  std::atomic<bool> stop{false};
  std::thread pub([&] {
    for (int i = 0; !stop; ++i) {
      s.publish(i % 2 ? "A-USDT" : "B-USDT", i);
      if (i % 50 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  ws_client c(s.port);
  reader r{c};
  c.read();
  for (int round = 0; round < 30; ++round) {
    c.send(R"({"type":"subscribe","id":1,"topics":["price.*","price.A-USDT"]})");
    r.until_type("subscribed");
    for (int k = 0; k < 20; ++k) r.until([](const json& m) { return m["type"] == "update"; });
    c.send(R"({"type":"unsubscribe","id":2,"topics":["price.*"]})");
    r.until_type("unsubscribed");
    c.send(R"({"type":"unsubscribe","id":3,"topics":["price.A-USDT"]})");
    r.until_type("unsubscribed");
  }
  stop = true;
  pub.join();
  expect_increasing(r.seen);
  EXPECT_GT(r.seen["price.A-USDT"].size(), 100u);
}

TEST(WsDelivery, RecoveryAfterAReconnectContinuesWithoutAGap) {
  running_server s;
  for (int i = 0; i < 10; ++i) s.publish("A-USDT", i);
  uint64_t last;
  {
    ws_client c(s.port);
    reader r{c};
    c.read();
    c.send(R"({"type":"subscribe","topics":["price.*"]})");
    r.until_type("snapshot");
    last = r.seen["price.A-USDT"].back();
  }
  EXPECT_EQ(last, 10u);
  for (int i = 0; i < 5; ++i) s.publish("A-USDT", 100 + i);  // published while the client was away
  ws_client c(s.port);
  reader r{c};
  c.read();
  c.send(R"({"type":"subscribe","id":7,"topics":["price.*"],"since":{"price.A-USDT":10}})");
  auto ack = r.until_type("subscribed");
  EXPECT_EQ(ack["recovery"], (json{{"price.A-USDT", "recovered"}}));
  for (int i = 0; i < 5; ++i) {
    auto u = r.until_type("update");
    EXPECT_EQ(u["record"]["seq"], 11 + i);
    EXPECT_EQ(u["record"]["data"]["price"], 100 + i);
  }
  s.publish("A-USDT", 200);
  EXPECT_EQ(r.until_type("update")["record"]["seq"], 16);
  EXPECT_EQ(r.seen["price.A-USDT"], (std::vector<uint64_t>{11, 12, 13, 14, 15, 16}));
}

TEST(WsDelivery, RecoveryHitsAndMisses) {
  running_server s({}, history_options{.per_topic = 3});
  for (int i = 0; i < 10; ++i) s.publish("A-USDT", i);
  s.publish("B-USDT", 1);
  auto sub = [&](const std::string& since) {
    auto c = std::make_unique<ws_client>(s.port);
    c->read();
    c->send(R"({"type":"subscribe","id":1,"topics":["price.*"],"since":)" + since + "}");
    return c;
  };
  auto hit = sub(R"({"price.A-USDT":8})");
  auto ack = hit->read();
  EXPECT_EQ(ack["recovery"]["price.A-USDT"], "recovered");
  std::set<std::pair<std::string, uint64_t>> got;
  for (int i = 0; i < 3; ++i) {  // A 9 and 10 as updates, B as a snapshot (not in since)
    auto m = hit->read();
    got.insert({m["type"].get<std::string>() + ":" + m["topic"].get<std::string>(), m["record"]["seq"].get<uint64_t>()});
  }
  EXPECT_EQ(got, (std::set<std::pair<std::string, uint64_t>>{
                     {"update:price.A-USDT", 9}, {"update:price.A-USDT", 10}, {"snapshot:price.B-USDT", 1}}));
  auto miss = sub(R"({"price.A-USDT":2,"price.B-USDT":1})");  // 3..7 are no longer held
  ack = miss->read();
  EXPECT_EQ(ack["recovery"], (json{{"price.A-USDT", "snapshot"}, {"price.B-USDT", "recovered"}}));
  auto snap = miss->read();
  EXPECT_EQ(snap["type"], "snapshot");
  EXPECT_EQ(snap["record"]["seq"], 10);
  miss->send(R"({"type":"ping","id":2})");
  EXPECT_EQ(miss->read()["type"], "pong");  // B was up to date: nothing sent for it
  auto ahead = sub(R"({"price.A-USDT":999})");  // a seq from another life of the server
  EXPECT_EQ(ahead->read()["recovery"]["price.A-USDT"], "snapshot");
  auto bad = sub(R"({"price.A-USDT":"x"})");
  EXPECT_EQ(bad->read()["code"], "bad_request");
}

TEST(WsDelivery, ASlowReaderGetsTheLatestValuesWhileAFastOneGetsEverything) {
  server_options o;
  o.queue_limit_bytes = 64 * 1024;
  running_server s(o);
  raw_socket slow(s.port, 4096);
  ASSERT_THAT(slow.upgrade(), HasSubstr("101"));
  slow.send(client_frame(1, R"({"type":"subscribe","topics":["sentiment.*"]})"));
  ws_client fast(s.port);
  reader r{fast};
  fast.read();
  fast.send(R"({"type":"subscribe","topics":["sentiment.*"]})");
  r.until_type("subscribed");
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  // In lockstep with the fast reader, 4 records (40 KB) at a time: its queue never nears the
  // 64 KB bound, whatever the machine's load, while the slow one falls far behind.
  const int n = 1500;
  for (int i = 0; i < n; i += 4) {
    for (int k = i; k < i + 4; ++k) s.out.publish(big_record(k % 2 ? "a" : "b", 10000));
    for (int k = i; k < i + 4; ++k) r.until_type("update");
  }
  EXPECT_EQ(r.seen["sentiment.a"].size(), size_t(n / 2));  // the fast one: every update, in order
  expect_increasing(r.seen);
  std::map<std::string, std::vector<uint64_t>> slow_seen;
  std::string bytes;
  for (;;) {
    auto more = slow.read_for(300);
    if (more.empty()) break;
    bytes += more;
  }
  size_t updates = 0;
  for (auto& [op, payload] : server_frames(bytes)) {
    ASSERT_EQ(op, 1);
    auto m = json::parse(payload);
    if (m["type"] != "update") continue;
    ++updates;
    slow_seen[m["topic"]].push_back(m["record"]["seq"]);
  }
  expect_increasing(slow_seen);
  EXPECT_LT(updates, size_t(n));                      // it did not get the whole backlog...
  EXPECT_EQ(slow_seen["sentiment.a"].back(), n / 2);  // ...but it did get the newest of each topic
  EXPECT_EQ(slow_seen["sentiment.b"].back(), n / 2);
  EXPECT_GT(s.m.value("tributary_ws_conflated_total"), 0);
  EXPECT_EQ(s.m.value("tributary_ws_drops_total", {{"reason", "slow_consumer"}}), 0);
}

TEST(WsDelivery, SnapshotsOfManyTopicsAndBurstsOfSubscribesAreNotSlowness) {
  server_options o;
  o.queue_limit_bytes = 4096;
  o.slow_consumer = slow_policy::close;
  running_server s(o);
  for (int i = 0; i < 2000; ++i) s.publish("T" + std::to_string(i) + "-USDT", i);
  ws_client c(s.port);
  reader r{c};
  c.read();
  c.send(R"({"type":"subscribe","topics":["price.*"]})");
  r.until_type("subscribed");
  for (int i = 0; i < 2000; ++i) r.until_type("snapshot");
  for (int i = 0; i < 50; ++i) c.send(R"({"type":"subscribe","topics":["price.T)" + std::to_string(i) + R"(-USDT"]})");
  for (int i = 0; i < 50; ++i) r.until_type("subscribed");
  s.publish("T1-USDT", 5);
  EXPECT_EQ(r.until_type("update")["record"]["seq"], 2);
  EXPECT_EQ(s.m.value("tributary_ws_drops_total", {{"reason", "slow_consumer"}}), 0);
}

// The opcode of each complete server frame at the front of `buf` (unmasked), taken off it.
std::vector<int> take_opcodes(std::string& buf) {
  std::vector<int> out;
  for (;;) {
    if (buf.size() < 2) return out;
    size_t len = static_cast<unsigned char>(buf[1]) & 127, head = 2;
    if (len == 126) {
      if (buf.size() < 4) return out;
      len = (size_t(static_cast<unsigned char>(buf[2])) << 8) | static_cast<unsigned char>(buf[3]);
      head = 4;
    }
    if (buf.size() < head + len) return out;
    out.push_back(buf[0] & 15);
    buf.erase(0, head + len);
  }
}

TEST(WsDelivery, SessionsThatOpenTogetherArePingedAtSpreadTimes) {
  // 40 sessions open at once. Were their heartbeats in phase, every ping would go out in the
  // same sweep (one every 50 ms at a 400 ms heartbeat): a storm of pings and pongs each period,
  // which held a server of 9,000 clients up for 100 ms. Each session's first ping comes a random
  // part of half a period early, so they spread over about 200 ms.
  server_options o;
  o.heartbeat = millis(400);
  running_server s(o);
  constexpr int kClients = 40;
  std::vector<std::unique_ptr<raw_socket>> clients;
  std::vector<pollfd> fds;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<raw_socket>(s.port));
    ASSERT_THAT(clients.back()->upgrade(), HasSubstr("101"));
    fds.push_back({clients.back()->fd(), POLLIN, 0});
  }
  auto opened = std::chrono::steady_clock::now();
  std::vector<std::string> bufs(kClients);
  std::vector<int64_t> first_ping(kClients, -1);
  auto ms_since_open = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - opened).count();
  };
  while (std::count(first_ping.begin(), first_ping.end(), -1) > 0 && ms_since_open() < 3000) {
    if (::poll(fds.data(), fds.size(), 100) <= 0) continue;
    int64_t now = ms_since_open();
    for (int i = 0; i < kClients; ++i) {
      if (!(fds[i].revents & POLLIN)) continue;
      char buf[4096];
      ssize_t n = ::recv(fds[i].fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) bufs[i].append(buf, static_cast<size_t>(n));
      for (int op : take_opcodes(bufs[i]))
        if (op == 9 && first_ping[i] < 0) first_ping[i] = now;
    }
  }
  ASSERT_EQ(std::count(first_ping.begin(), first_ping.end(), -1), 0) << "every session is pinged within a heartbeat";
  auto [lo, hi] = std::minmax_element(first_ping.begin(), first_ping.end());
  EXPECT_LE(*hi, 400 + 300);  // none later than a period after it opened, and some slack
  EXPECT_GE(*hi - *lo, 120) << "the first pings came within " << (*hi - *lo) << " ms of each other";
}

TEST(WsDelivery, AClientThatSendsPongsButNeverReadsIsClosedWithinTwoHeartbeats) {
  server_options o;
  o.heartbeat = millis(200);
  running_server s(o);
  raw_socket liar(s.port);
  ASSERT_THAT(liar.upgrade(), HasSubstr("101"));
  liar.send(client_frame(1, R"({"type":"subscribe","topics":["*"]})"));
  ws_client honest(s.port);
  honest.read();
  auto start = std::chrono::steady_clock::now();
  while (s.m.value("tributary_ws_drops_total", {{"reason", "heartbeat"}}) < 1 &&
         std::chrono::steady_clock::now() - start < std::chrono::seconds(3)) {
    liar.send(client_frame(10, "12345678"));  // unsolicited pongs with a guessed payload
    honest.send(R"({"type":"ping"})");
    EXPECT_EQ(honest.read()["type"], "pong");  // reading, so it answers the server's pings too
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(s.m.value("tributary_ws_drops_total", {{"reason", "heartbeat"}}), 1);
  EXPECT_LE(took, 2 * 200 + 150);  // two heartbeats, and some scheduling slack
  EXPECT_EQ(s.m.value("tributary_ws_sessions", {{"protocol", "websocket"}}), 1);
}

TEST(WsHardening, HostileHttpRequestsGetAnswersAndTheServerStaysUp) {
  running_server s;
  auto ask = [&](const std::string& raw) {
    raw_socket c(s.port);
    c.send(raw);
    return c.read_for(500);
  };
  // Escapes that decode to invalid UTF-8 name no topic; bytes no URL may hold are a bad request.
  for (std::string path : {"/api/v1/latest/%FF", "/api/v1/latest/%C3%28", "/api/v1/latest/\xff\xfe", "/\xc3", "/%"}) {
    bool escaped = path.find("%C3") != std::string::npos || path.find("%FF") != std::string::npos;
    auto res = ask("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_THAT(res, HasSubstr(escaped ? "404" : "400")) << path;
    auto body = res.substr(res.find("\r\n\r\n") + 4);
    EXPECT_EQ(json::parse(body)["error"]["code"], escaped ? "not_found" : "bad_request") << path;
  }
  EXPECT_THAT(ask(std::string("\x00\x01\x02 garbage\r\n\r\n", 16)), HasSubstr("400"));
  EXPECT_THAT(ask("GET / HTTP/1.1\r\nX: " + std::string(20000, 'a') + "\r\n\r\n"), HasSubstr("413"));
  EXPECT_THAT(ask("GET /ws HTTP/1.1\r\nHost: x\r\n\r\n"), HasSubstr("426"));
  EXPECT_THAT(ask("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n"),
              HasSubstr("426"));
  EXPECT_THAT(ask("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: nope\r\nSec-WebSocket-Version: 13\r\n\r\n"),
              HasSubstr("400"));
  EXPECT_EQ(http_get(s.port, "/health").status, 200);
}

TEST(WsHardening, BadFramesCloseWithTheirCodeAndOthersCarryOn) {
  running_server s;
  auto close_for = [&](const std::string& frame) {
    raw_socket c(s.port);
    EXPECT_THAT(c.upgrade(), HasSubstr("101"));
    c.send(frame);
    return close_code_in(c.read_for(500));
  };
  EXPECT_EQ(close_for(client_frame(1, R"({"type":"ping"})", true, false)), 1002);  // unmasked
  EXPECT_EQ(close_for(client_frame(1, "\xff")), 1007);
  EXPECT_EQ(close_for(client_frame(5, "")), 1002);
  EXPECT_EQ(close_for(client_frame(8, "\x03\xe8")), 1000);  // a client's close is answered
  // Bytes right behind the upgrade request are not lost.
  raw_socket eager(s.port);
  eager.send("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n" +
             client_frame(1, R"({"type":"ping","id":42})"));
  auto got = eager.read_for(300);
  auto frames = server_frames(got.substr(got.find("\r\n\r\n") + 4));
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(json::parse(frames[1].second), (json{{"type", "pong"}, {"id", 42}}));
  EXPECT_EQ(http_get(s.port, "/health").status, 200);
}

TEST(WsHardening, DeepNestingAndOddIdsAreRefusedAtAnyMessageSize) {
  server_options o;
  o.max_message_bytes = 16 << 20;
  running_server s(o);
  ws_client c(s.port);
  c.read();
  std::string deep = R"({"type":"ping","id":)" + std::string(2'000'000, '[') + std::string(2'000'000, ']') + "}";
  c.send(deep);
  EXPECT_EQ(c.read()["code"], "bad_request");
  c.send(R"({"type":"ping","id":{"a":1}})");
  EXPECT_EQ(c.read()["code"], "bad_request");
  c.send(R"({"type":"ping","id":")" + std::string(1000, 'x') + R"("})");
  EXPECT_EQ(c.read()["code"], "bad_request");
  c.send(R"({"type":"ping","id":"ok"})");
  EXPECT_EQ(c.read(), (json{{"type", "pong"}, {"id", "ok"}}));
}

TEST(WsHardening, IdleConnectionsBeforeARequestAreClosedAndHoldNoSlot) {
  server_options o;
  o.max_connections = 2;
  o.request_timeout = millis(300);
  running_server s(o);
  std::vector<std::unique_ptr<raw_socket>> idle;
  for (int i = 0; i < 20; ++i) idle.push_back(std::make_unique<raw_socket>(s.port));
  ws_client a(s.port), b(s.port);  // silent sockets do not take WebSocket slots
  EXPECT_EQ(a.read()["type"], "hello");
  EXPECT_EQ(b.read()["type"], "hello");
  for (auto& sock : idle) {
    sock->read_for(2000);
    EXPECT_TRUE(sock->eof());
  }
}

TEST(WsHardening, StopSendsGoingAwayToEveryClient) {
  server_options o;
  o.io_threads = 2;
  running_server s(o);
  std::vector<std::unique_ptr<ws_client>> clients;
  for (int i = 0; i < 20; ++i) {
    clients.push_back(std::make_unique<ws_client>(s.port));
    clients.back()->read();
  }
  std::thread stopper([&] { s.srv->stop(); });
  for (auto& c : clients) EXPECT_EQ(c->read_until_close(), 1001);
  stopper.join();
}

TEST(WsHardening, RunningOutOfDescriptorsBacksOffInsteadOfSpinning) {
  running_server s;
  rlimit old{};
  getrlimit(RLIMIT_NOFILE, &old);
  rlimit low = old;
  low.rlim_cur = open_fds() + 4;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  std::vector<std::unique_ptr<raw_socket>> socks;
  for (int i = 0; i < 8; ++i) {
    try {
      socks.push_back(std::make_unique<raw_socket>(s.port));
    } catch (...) {
      break;  // the client side ran out too
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  double before = cpu_seconds();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  double used = cpu_seconds() - before;
  socks.clear();
  setrlimit(RLIMIT_NOFILE, &old);
  EXPECT_LT(used, 0.25);  // a spinning accept loop burns the whole half second
  EXPECT_EQ(http_get(s.port, "/health").status, 200);  // and it accepts again once it can
}

TEST(WsLimits, ConnectionsPerAddressAreBounded) {
  server_options o;
  o.connections_per_ip = 3;
  running_server s(o);
  std::vector<std::unique_ptr<ws_client>> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(std::make_unique<ws_client>(s.port));
    EXPECT_EQ(clients.back()->read()["type"], "hello");
  }
  try {
    ws_client fourth(s.port);
    ADD_FAILURE() << "a fourth connection from one address was upgraded";
  } catch (const beast::system_error& e) {
    EXPECT_EQ(e.code(), websocket::error::upgrade_declined);
  }
  raw_socket plain(s.port);
  plain.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  auto res = plain.read_for(500);
  EXPECT_THAT(res, HasSubstr("503"));
  EXPECT_THAT(res, HasSubstr("too_many_connections"));
  EXPECT_GE(s.m.value("tributary_connections_refused_total", {{"reason", "per_ip"}}), 2);
  clients.pop_back();  // one leaves: room for another
  for (int i = 0; i < 50; ++i) {
    try {
      ws_client again(s.port);
      EXPECT_EQ(again.read()["type"], "hello");
      return;
    } catch (const beast::system_error&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the slot frees when the server sees the close
    }
  }
  ADD_FAILURE() << "no room after a client left";
}

TEST(WsLimits, MessagesOverTheRateAreRefusedAndAFloodIsClosed) {
  server_options o;
  o.messages_per_second = 5;
  o.messages_burst = 5;
  running_server s(o);
  ws_client c(s.port);
  c.read();
  for (int i = 0; i < 20; ++i) c.send(R"({"type":"ping"})");
  int pongs = 0, limited = 0;
  for (int i = 0; i < 20; ++i) {
    auto m = c.read();
    if (m["type"] == "pong") ++pongs;
    else if (m["code"] == "rate_limited") ++limited;
  }
  EXPECT_GE(pongs, 5);
  EXPECT_LE(pongs, 7);  // the burst, and what refilled while sending
  EXPECT_EQ(pongs + limited, 20);
  EXPECT_GE(s.m.value("tributary_ws_rate_limited_total"), 13);
  // Ten times the rate (and burst) is abuse: closed.
  for (int i = 0; i < 120; ++i) c.send(R"({"type":"ping"})");
  EXPECT_EQ(c.read_until_close(), 1008);
  EXPECT_EQ(s.m.value("tributary_ws_drops_total", {{"reason", "message_flood"}}), 1);
}

TEST(WsLimits, AllowedOriginsGateUpgradesAndCarryCors) {
  server_options o;
  o.allowed_origins = {"https://app.example.com"};
  running_server s(o);
  auto upgrade_from_to = [&](const std::string& origin, unsigned short port) {
    raw_socket c(port);
    c.send("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
           (origin.empty() ? std::string() : "Origin: " + origin + "\r\n") +
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    return c.read_for(300);
  };
  auto upgrade_from = [&](const std::string& origin) { return upgrade_from_to(origin, s.port); };
  EXPECT_THAT(upgrade_from("https://app.example.com"), HasSubstr("101 Switching Protocols"));
  // No Origin: a back-end worker or a script, not a page of another site: let in...
  EXPECT_THAT(upgrade_from(""), HasSubstr("101 Switching Protocols"));
  {  // ... unless require_origin
    server_options strict = o;
    strict.require_origin = true;
    running_server r(strict);
    auto refused = upgrade_from_to("", r.port);
    EXPECT_THAT(refused, HasSubstr("403"));
    EXPECT_THAT(refused, HasSubstr("an Origin header is required"));
    EXPECT_THAT(upgrade_from_to("https://app.example.com", r.port), HasSubstr("101 Switching Protocols"));
  }
  auto refused = upgrade_from("https://evil.example.net");
  EXPECT_THAT(refused, HasSubstr("403"));
  EXPECT_THAT(refused, HasSubstr("not in allowed_origins"));
  raw_socket get(s.port);
  get.send("GET /health HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example.com\r\n\r\n");
  auto res = get.read_for(300);
  EXPECT_THAT(res, HasSubstr("Access-Control-Allow-Origin: https://app.example.com"));
  raw_socket other(s.port);
  other.send("GET /health HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example.net\r\n\r\n");
  EXPECT_THAT(other.read_for(300), Not(HasSubstr("Access-Control-Allow-Origin")));
  raw_socket pre(s.port);
  pre.send("OPTIONS /api/v1/status HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example.com\r\n"
           "Access-Control-Request-Method: GET\r\n\r\n");
  auto pf = pre.read_for(300);
  EXPECT_THAT(pf, HasSubstr("204"));
  EXPECT_THAT(pf, HasSubstr("Access-Control-Allow-Headers: Authorization"));
}

// GET /api/v1/subscriptions (admin): sessions per pattern and protocol, kept as sessions
// subscribe, unsubscribe and close.
TEST(HttpApi, SubscriptionsCountSessionsPerPatternAndProtocol) {
  server_options o;
  o.admin_token = "subscriptions-admin-token-0123456789";
  running_server s(o);
  auto counts = [&] {
    auto r = http_get(s.port, "/api/v1/subscriptions", o.admin_token);
    EXPECT_EQ(r.status, 200);
    std::map<std::string, int> out;
    auto body = json::parse(r.body);
    for (auto& p : body["patterns"]) {
      EXPECT_EQ(p["by_protocol"]["websocket"], p["sessions"]);
      out[p["pattern"].get<std::string>()] = p["sessions"].get<int>();
    }
    return out;
  };
  auto until = [&](const std::map<std::string, int>& want) {
    for (int i = 0; i < 200 && counts() != want; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return counts();
  };
  EXPECT_EQ(http_get(s.port, "/api/v1/subscriptions").status, 401);
  auto a = std::make_unique<ws_client>(s.port);
  ws_client b(s.port);
  a->send(R"({"type":"subscribe","topics":["price.*","event.x"]})");
  b.send(R"({"type":"subscribe","topics":["price.*"]})");
  b.send(R"({"type":"subscribe","topics":["price.*"]})");  // twice: still one session
  EXPECT_EQ(until({{"price.*", 2}, {"event.x", 1}}), (std::map<std::string, int>{{"price.*", 2}, {"event.x", 1}}));
  b.send(R"({"type":"unsubscribe","topics":["price.*"]})");
  EXPECT_EQ(until({{"price.*", 1}, {"event.x", 1}}), (std::map<std::string, int>{{"price.*", 1}, {"event.x", 1}}));
  a.reset();  // closes
  EXPECT_EQ(until({}), (std::map<std::string, int>{}));
}
