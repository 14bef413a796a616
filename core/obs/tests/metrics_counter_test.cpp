// A counter kept by a hot path: whole-number adds and fractional ones both count, a gauge's set
// replaces what was added, and the rendered text carries the sum.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "obs/metrics.hpp"

using namespace tributary;

TEST(MetricsCounter, AddsWholeNumbersAndFractionsAlike) {
  metrics m;
  auto& c = m.counter_for("tributary_test_total", {{"kind", "price"}});
  c.add();
  c.add(41);
  c.add(0.25);
  c.add(-2);
  EXPECT_DOUBLE_EQ(c.value(), 40.25);
  c.add(1e300);  // past every whole number an int64 holds: added as a double
  EXPECT_DOUBLE_EQ(c.value(), 1e300);
  EXPECT_DOUBLE_EQ(m.value("tributary_test_total", {{"kind", "price"}}), 1e300);
}

TEST(MetricsCounter, SetReplacesWhatWasAdded) {
  metrics m;
  auto& g = m.counter_for("tributary_test_depth");
  g.add(7);
  g.add(0.5);
  g.set(3);
  EXPECT_DOUBLE_EQ(g.value(), 3);
  g.add(2);
  EXPECT_DOUBLE_EQ(g.value(), 5);
  EXPECT_NE(m.render().find("tributary_test_depth 5"), std::string::npos) << m.render();
}

TEST(MetricsCounter, ConcurrentAddsAreAllCounted) {
  metrics m;
  auto& c = m.counter_for("tributary_test_total");
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&] {
      for (int i = 0; i < 100000; ++i) c.add();
    });
  for (auto& t : ts) t.join();
  EXPECT_DOUBLE_EQ(c.value(), 400000);
}
