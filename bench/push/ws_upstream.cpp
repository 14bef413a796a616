// bench/push: a local upstream speaking Binance's stream protocol (tests/support's server),
// emitting 24hrTicker events at a rate read from stdin, one number (events/s) a line.
// Prints {"port":N} once listening, then {"sent":N} for every rate line it reads.
// Usage: bench_ws_upstream
#include <cstdio>
#include <iostream>
#include <string>

#include "../../tests/support/binance_stream_server.hpp"

int main() {
  tributary::test_support::binance_stream_options o;
  o.tick = std::chrono::milliseconds(5);
  o.rate = 0.001;  // quiet until told
  tributary::test_support::binance_stream_server srv(o);
  std::printf("{\"port\":%u}\n", srv.port());
  std::fflush(stdout);
  for (std::string line; std::getline(std::cin, line);) {
    srv.set_rate(std::stod(line));
    std::printf("{\"sent\":%zu}\n", srv.events_sent());
    std::fflush(stdout);
  }
}
