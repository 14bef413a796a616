// A stream feed's Kafka upstream: a consumer group member whose offsets are committed only
// once the records are published for good (kafka_ledger), and which skips, after a restart or
// a failover, the messages whose records are published already.
#include <spdlog/spdlog.h>

#include "ingest/intake.hpp"
#include "ingest/runtime.hpp"
#include "ingest/stream_feed.hpp"
#include "ingest/upstreams/kafka_consumer.hpp"
#include "ingest/upstreams/kafka_ledger.hpp"
#include "util/clock.hpp"
#include "util/wake_batch.hpp"

namespace tributary {

namespace {
constexpr int64_t kCommitEveryMs = 200;
constexpr millis kPollKafka{100};  // how often a quiet consumer looks at stop, the gate and commits
constexpr int kBatch = 128;        // messages handled under one wake batch
}

// The consumer's listener and the ledger's keeper for one session.
class kafka_session final : public kafka_consumer::listener {
 public:
  kafka_session(stream_feed& feed, std::string group) : feed_(feed), ledger_(std::move(group)) {}

  void assigned(const std::vector<kafka_partition>& parts) override {
    auto published = feed_.out_.out().positions(ledger_.prefix());
    if (auto* e = std::get_if<std::string>(&published)) {
      failure_ = "cannot read the positions already published (" + *e + ")";  // would publish some twice
      return;
    }
    ledger_.assigned(parts, std::get<position_map>(published));
    feed_.log_->info("feed {}: source {}: {} Kafka partition(s) assigned", feed_.feed_.cfg.id, feed_.source_.name, parts.size());
  }
  void revoked(const std::vector<kafka_partition>& parts) override {
    if (consumer_) commit(&parts, true);
    ledger_.revoked(parts);
    feed_.log_->info("feed {}: source {}: {} Kafka partition(s) revoked", feed_.feed_.cfg.id, feed_.source_.name, parts.size());
  }
  void client_log(int level, std::string_view text) override {
    if (level <= 4) feed_.log_->warn("feed {}: source {}: librdkafka: {}", feed_.feed_.cfg.id, feed_.source_.name, text);
  }

  // One message: skipped when published already, else handed to the plugin.
  void take(const kafka_consumer::message& m) {
    if (ledger_.published_already(m.topic, m.partition, m.offset)) {
      feed_.skipped_++;
      ledger_.handled(m.topic, m.partition, m.offset, false);
      return;
    }
    upstream_message um{m.topic, m.payload, m.key, m.headers.data(), m.headers.size()};
    bool recorded = feed_.on_message(um, ledger_.position(m.topic, m.partition, m.offset));
    ledger_.handled(m.topic, m.partition, m.offset, recorded);
  }

  // `m`, then the messages librdkafka holds already (at most kBatch): the I/O threads are woken
  // once for all of them. Why the consumer failed, or nullopt.
  std::optional<std::string> take_batch(kafka_consumer::message& m) {
    wake_batch wakes;
    take(m);
    std::string error;
    for (int n = 1; n < kBatch && feed_.holding(); ++n) {
      auto got = consumer_->poll(millis(0), m, error);
      if (got == kafka_consumer::polled::failed) return error;
      if (got != kafka_consumer::polled::message) break;
      take(m);
    }
    return std::nullopt;
  }

  // Commits what is published for good (of `only`, or of every partition held).
  void commit(const std::vector<kafka_partition>* only, bool sync) {
    if (ledger_.held() == 0 || (!sync && !ledger_.pending())) return;  // idle: no Redis read every 200 ms
    auto published = feed_.out_.out().positions(ledger_.prefix());
    if (std::holds_alternative<std::string>(published)) return;  // later: nothing is lost by waiting
    consumer_->commit(ledger_.due(std::get<position_map>(published), only, sync), sync);
  }

  std::optional<std::string> failure() const { return failure_; }
  void attach(kafka_consumer* c) { consumer_ = c; }

 private:
  stream_feed& feed_;
  kafka_ledger ledger_;
  kafka_consumer* consumer_ = nullptr;
  std::optional<std::string> failure_;
};

std::optional<std::string> stream_feed::read_kafka(const stream_plan& plan) {
  kafka_consumer::options opts{plan.url, plan.channels, plan.group.empty() ? default_group_ : plan.group, "tributary-" + source_.name,
                               plan.start == stream_plan::start_at::earliest, plan.client_settings};
  kafka_session session(*this, opts.group);
  auto opened = kafka_consumer::open(opts, session);
  if (auto* e = std::get_if<std::string>(&opened)) return *e;
  auto& consumer = *std::get<std::unique_ptr<kafka_consumer>>(opened);
  session.attach(&consumer);
  subscribed(plan.channels.size(), 0);
  kafka_consumer::message m;
  std::string error;
  int64_t last_commit = clock_.now_ms();
  bool up = true;
  while (holding()) {
    if (auto why = session.failure()) return why;
    auto got = consumer.poll(kPollKafka, m, error);
    if (got == kafka_consumer::polled::failed) return error;
    if (got == kafka_consumer::polled::message) {
      if (auto why = session.take_batch(m)) return why;
    } else if (auto why = silent(plan)) {
      return why;
    }
    if (consumer.brokers_up() != up) brokers_changed(up = consumer.brokers_up(), consumer.last_error());
    if (clock_.now_ms() - last_commit >= kCommitEveryMs) {
      session.commit(nullptr, false);
      last_commit = clock_.now_ms();
    }
  }
  session.commit(nullptr, true);  // the gate closed or we stop: what is published, before leaving the group
  return std::nullopt;
}

// The brokers stopped or started answering; the consumer is kept (librdkafka reconnects), the
// outage shows in the feed's status, /ready and tributary_stream_connected.
void stream_feed::brokers_changed(bool up, const std::string& why) {
  connected_ = up;
  if (up) {
    log_->info("feed {}: source {}: Kafka brokers answer again", feed_.cfg.id, source_.name);
    last_message_ = clock_.now_ms();
    set_up(true);  // subscribed again, as after a reconnect
    return;
  }
  log_->warn("feed {}: source {}: Kafka brokers unreachable ({})", feed_.cfg.id, source_.name, why);
  set_up(false);
  std::lock_guard lk(source_.mu);
  source_.failures++;
  source_.last_error_at = clock_.now_ms();
  source_.last_error_class = "retryable";
  source_.last_error = "Kafka brokers unreachable: " + why;
}

}  // namespace tributary
