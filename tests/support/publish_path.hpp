#pragma once
// The standalone publish path as the host wires it: intake -> memory broker -> delivery (cache,
// hub, views), for tests of the parts around it.
#include <memory>

#include "ingest/intake.hpp"
#include "obs/log.hpp"
#include "obs/metrics.hpp"
#include "publish/cache.hpp"
#include "publish/delivery.hpp"
#include "publish/fanout_hub.hpp"
#include "publish/memory_broker.hpp"
#include "publish/view_engine.hpp"
#include "server/frames.hpp"

namespace tributary::test_support {

struct publish_path {
  record_cache cache;
  fanout_hub hub;
  metrics m;
  memory_broker broker{&update_frame};
  delivery deliver{cache, &hub};
  intake out{broker, m, make_logger("test", "off", nullptr)};

  explicit publish_path(history_options h = {}) : hub(h) {
    broker.on_publication([this](const std::shared_ptr<const published_record>& r) { deliver.on_publication(r); });
  }
  void set_views(view_engine* v) {
    deliver.set_views(v, [this](record r) { out.publish(std::move(r)); }, {});
  }
};

}  // namespace tributary::test_support
