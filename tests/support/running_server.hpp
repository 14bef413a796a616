#pragma once
// The server in process on port 0 with a pipeline in front of it, for tests over real sockets.
#include <functional>
#include <memory>
#include <string>

#include "publish_path.hpp"
#include "record/record.hpp"
#include "server/server.hpp"

namespace tributary::test_support {

struct running_server {
  publish_path path;
  record_cache& cache = path.cache;
  fanout_hub& hub = path.hub;
  metrics& m = path.m;
  intake& out = path.out;
  std::unique_ptr<server> srv;
  unsigned short port = 0;

  // `on_pattern`: the server's subscription_pattern hook (demand).
  explicit running_server(server_options o = {}, history_options h = {},
                          std::function<void(const std::string&, bool)> on_pattern = {})
      : path(h) {
    o.port = 0;
    server_hooks hooks;
    hooks.subscription_pattern = std::move(on_pattern);
    hooks.status_json = [] { return std::string(R"({"role":"standalone"})"); };
    hooks.metrics_text = [this] { return m.render(); };
    hooks.ready = [] { return std::make_pair(true, std::string("config loaded")); };
    srv = std::make_unique<server>(o, cache, hub, m, hooks, make_logger("test", "off", nullptr));
    port = srv->start();
  }
  void publish(const std::string& subject, double price) {
    record r;
    r.kind = "price";
    r.subject = subject;
    r.source = "binance";
    r.feed = "spot";
    r.data = {{"price", price}};
    out.publish(r);
  }
  // A record of `sentiment.fear_greed` whose text is `text`: a large one fills a slow client.
  void publish_sentiment(int value, const std::string& text) {
    record r;
    r.kind = "sentiment";
    r.subject = "fear_greed";
    r.data = {{"value", value}, {"classification", text}};
    out.publish(r);
  }
};


}  // namespace tributary::test_support
