// redis_client's replies: hiredis's reader builds them in place into trees that are read into
// again (net/redis.cpp, in_place). Against a real redis-server, and against a socket that sends
// a reply in two parts with a wait between them.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "../../../tests/support/redis_server.hpp"
#include "net/redis.hpp"

using namespace tributary;
using namespace tributary::test_support;
using kind = redis_reply::kind;

TEST(RedisReplies, EveryShapeReadsRightIntoOneTreeUsedAgain) {
  redis_server server;
  redis_client c(server.endpoint(), millis(2000));
  redis_reply r;  // every command below reads into this one
  std::string big(1024, 'v');
  for (int i = 0; i < 2000; ++i)
    ASSERT_FALSE(c.command_into({"XADD", "s", "*", "i", std::to_string(i), "big", big}, r));
  ASSERT_EQ(r.type, kind::string);
  for (int round = 0; round < 2; ++round) {  // a 2 MB reply over many reads, twice into the same tree
    ASSERT_FALSE(c.command_into({"XRANGE", "s", "-", "+"}, r));
    ASSERT_EQ(r.type, kind::array);
    ASSERT_EQ(r.elements.size(), 2000u);
    for (size_t i = 0; i < r.elements.size(); ++i) {
      const auto& fields = r.elements[i].elements.at(1).elements;
      ASSERT_EQ(fields.size(), 4u);
      ASSERT_EQ(fields[1].str, std::to_string(i));
      ASSERT_EQ(fields[3].str, big);
    }
  }
  ASSERT_FALSE(c.command_into({"SET", "k", "v"}, r));
  EXPECT_EQ(r.type, kind::status);
  EXPECT_EQ(r.str, "OK");
  EXPECT_TRUE(r.elements.empty());  // nothing left of the array read before
  ASSERT_FALSE(c.command_into({"GET", "k"}, r));
  EXPECT_EQ(r.type, kind::string);
  EXPECT_EQ(r.str, "v");
  ASSERT_FALSE(c.command_into({"INCRBY", "n", "41"}, r));
  EXPECT_EQ(r.type, kind::integer);
  EXPECT_EQ(r.integer, 41);
  EXPECT_TRUE(r.str.empty());
  ASSERT_FALSE(c.command_into({"GET", "missing"}, r));
  EXPECT_EQ(r.type, kind::nil);
  ASSERT_FALSE(c.command_into({"INCR", "k"}, r));  // not a number: an error reply, not a failure
  EXPECT_TRUE(r.is_error());
  EXPECT_NE(r.str.find("ERR"), std::string::npos) << r.str;
  ASSERT_FALSE(c.command_into({"MGET", "k", "missing", "n"}, r));  // nil inside an array
  ASSERT_EQ(r.elements.size(), 3u);
  EXPECT_EQ(r.elements[0].str, "v");
  EXPECT_EQ(r.elements[1].type, kind::nil);
  EXPECT_EQ(r.elements[2].str, "41");
  ASSERT_FALSE(c.command_into({"XRANGE", "s", "-", "+", "COUNT", "1"}, r));  // smaller than before
  ASSERT_EQ(r.elements.size(), 1u);
  EXPECT_EQ(r.elements[0].elements[1].elements[1].str, "0");
  auto again = c.command({"GET", "k"});  // a fresh reply each
  ASSERT_TRUE(std::holds_alternative<redis_reply>(again));
  EXPECT_EQ(std::get<redis_reply>(again).str, "v");
}

namespace {
// A listener on a free loopback port that takes one connection.
struct fake_redis {
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  int conn = -1;
  int port = 0;
  fake_redis() {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(listener, 1);
    socklen_t n = sizeof a;
    ::getsockname(listener, reinterpret_cast<sockaddr*>(&a), &n);
    port = ntohs(a.sin_port);
  }
  ~fake_redis() {
    if (conn >= 0) ::close(conn);
    ::close(listener);
  }
  void send(const std::string& s) const { ASSERT_EQ(::send(conn, s.data(), s.size(), MSG_NOSIGNAL), static_cast<ssize_t>(s.size())); }
  redis_endpoint endpoint() const {
    redis_endpoint ep;
    ep.port = port;
    return ep;
  }
  // Takes the connection, reads one command and answers it with `answer` (join before use).
  std::thread answer_first(std::string answer) {
    return std::thread([this, answer = std::move(answer)] {
      conn = ::accept(listener, nullptr, nullptr);
      char buf[256];
      (void)!::recv(conn, buf, sizeof buf, 0);
      send(answer);
    });
  }
};
}  // namespace

TEST(RedisReplies, APipelineAnswersEachCommandInOrderErrorsIncluded) {
  redis_server server;
  redis_client c(server.endpoint(), millis(2000));
  std::vector<std::vector<std::string>> cmds{{"SET", "k", "v"}, {"INCR", "k"}, {"GET", "k"}, {"XADD", "s", "*", "f", "1"}};
  std::vector<redis_reply> out;
  ASSERT_FALSE(c.pipeline(cmds, out));
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].str, "OK");
  EXPECT_TRUE(out[1].is_error());  // not an integer: Redis says so, and the rest still ran
  EXPECT_EQ(out[2].str, "v");
  EXPECT_EQ(out[3].type, kind::string);
  ASSERT_FALSE(c.pipeline(cmds, out));  // the same connection, again
  EXPECT_EQ(out[2].str, "v");
  server.stop();
  auto why = c.pipeline(cmds, out);
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("redis 127.0.0.1:"), std::string::npos) << *why;
  EXPECT_TRUE(out.empty());
}

TEST(RedisReplies, AReplyThatArrivesInPartsAcrossWaitsIsReadWhole) {
  fake_redis fake;
  redis_client c(fake.endpoint(), millis(2000));
  auto server = fake.answer_first("*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n");
  auto sub = c.command({"SUBSCRIBE", "ch"});
  server.join();
  ASSERT_TRUE(std::holds_alternative<redis_reply>(sub));
  EXPECT_EQ(std::get<redis_reply>(sub).elements.at(0).str, "subscribe");
  // Half a message: the wait ends with nothing, and the half is kept for the next one.
  fake.send("*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$11\r\nhello");
  auto first = c.next_push(millis(50));
  ASSERT_TRUE(std::holds_alternative<std::optional<redis_reply>>(first));
  EXPECT_FALSE(std::get<std::optional<redis_reply>>(first).has_value());
  fake.send(" world\r\n*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n:7\r\n");
  for (const char* want : {"hello world", ""}) {
    auto got = c.next_push(millis(2000));
    ASSERT_TRUE(std::holds_alternative<std::optional<redis_reply>>(got));
    auto& msg = std::get<std::optional<redis_reply>>(got);
    ASSERT_TRUE(msg && msg->elements.size() == 3u);
    EXPECT_EQ(msg->elements[0].str, "message");
    if (*want) EXPECT_EQ(msg->elements[2].str, want);
    else EXPECT_EQ(msg->elements[2].integer, 7);
  }
}

TEST(RedisReplies, AHostileReplyIsAnErrorNotACrashNorAGiantAllocation) {
  for (std::string answer : {std::string("*2000000000\r\n$1\r\na\r\n"),     // claims two billion elements
                             [] {  // nested deeper than hiredis reads
                               std::string s;
                               for (int i = 0; i < 12; ++i) s += "*1\r\n";
                               return s + ":1\r\n";
                             }(),
                             std::string("$-5\r\n"), std::string("?what\r\n")}) {
    fake_redis fake;
    redis_client c(fake.endpoint(), millis(300));
    auto server = fake.answer_first(answer);
    rusage before{};
    getrusage(RUSAGE_SELF, &before);
    auto got = c.command({"PING"});
    server.join();
    rusage after{};
    getrusage(RUSAGE_SELF, &after);
    ASSERT_TRUE(std::holds_alternative<std::string>(got)) << answer;  // why, never a reply
    EXPECT_FALSE(std::get<std::string>(got).empty());
    EXPECT_LT(after.ru_maxrss - before.ru_maxrss, 64 * 1024) << answer;  // KiB: no giant allocation
  }
}
