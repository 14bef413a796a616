// Stopping the curl transport completes every request with its callback.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>

#include "net/transport.hpp"
#include "util/clock.hpp"

using namespace tributary;

TEST(CurlTransport, ShutdownCompletesHungAndLaterRequestsWithTheirCallbacks) {
  // A server that accepts connections (through the backlog) and never answers.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::listen(fd, 16);
  system_clock_source clock;
  auto t = make_curl_transport(clock);
  http_request r;
  r.base_url = "http://127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  r.path = "/hang";
  r.timeout = millis(60000);
  std::promise<http_response> hung;
  t->send(r, [&](http_response resp) { hung.set_value(std::move(resp)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // connected, waiting for an answer
  auto started = std::chrono::steady_clock::now();
  t->shutdown();
  auto f = hung.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(2)), std::future_status::ready);
  auto resp = f.get();
  EXPECT_EQ(resp.status, 0);
  EXPECT_EQ(resp.error, "transport stopped");
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(3));
  bool answered = false;
  t->send(r, [&](http_response later) { answered = later.error == "transport stopped"; });
  EXPECT_TRUE(answered);  // at once, not never
  ::close(fd);
}
