#include "sink/kafka_sink.hpp"

#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include "obs/metrics.hpp"
#include "util/thread_name.hpp"

namespace tributary {

struct kafka_sink_callbacks {
  static void delivered(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* self = static_cast<kafka_sink*>(opaque);
    if (!m->err) {
      self->written();
      self->set_failing(false, "");
      return;
    }
    if (m->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE || m->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT) return;  // counted by stop()
    self->dropped("refused");  // librdkafka gave up on it (idempotence keeps order: it does not retry out of turn)
    self->set_failing(true, std::string("a record was refused: ") + rd_kafka_err2str(m->err));
  }
  static void error(rd_kafka_t*, int err, const char* reason, void* opaque) {
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || err == RD_KAFKA_RESP_ERR__FATAL)
      static_cast<kafka_sink*>(opaque)->set_failing(true, std::string("Kafka: ") + (reason ? reason : "brokers unreachable"));
  }
  static void log(const rd_kafka_t*, int, const char*, const char*) {}  // errors come through error() above
};

std::variant<std::unique_ptr<copy_sink>, std::string> kafka_sink::make(const sink_config& cfg, metrics& m, std::function<bool()> leading,
                                                                       std::shared_ptr<spdlog::logger> log) {
  auto topic = record_template::compile(cfg.topic);
  if (auto* e = std::get_if<std::string>(&topic)) return "sinks." + cfg.name + ".topic: " + *e;
  std::unique_ptr<kafka_sink> self(new kafka_sink(cfg, m, std::move(leading), std::move(log), std::get<record_template>(topic)));
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  std::vector<std::pair<std::string, std::string>> all{{"bootstrap.servers", cfg.brokers},
                                                       {"client.id", "tributary-sink-" + cfg.name},
                                                       {"enable.idempotence", "true"},
                                                       {"acks", "all"},
                                                       {"linger.ms", "5"},
                                                       {"message.timeout.ms", "0"},  // held until the brokers take it
                                                       {"queue.buffering.max.messages", std::to_string(cfg.buffer)},
                                                       {"reconnect.backoff.max.ms", "2000"}};
  all.insert(all.end(), cfg.client_settings.begin(), cfg.client_settings.end());
  for (auto& [k, v] : all)
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return "sinks." + cfg.name + ": Kafka setting " + k + ": " + err;  // never the value: it may be a password
    }
  rd_kafka_conf_set_opaque(conf, self.get());
  rd_kafka_conf_set_dr_msg_cb(conf, &kafka_sink_callbacks::delivered);
  rd_kafka_conf_set_error_cb(conf, &kafka_sink_callbacks::error);
  rd_kafka_conf_set_log_cb(conf, &kafka_sink_callbacks::log);
  self->rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!self->rk_) {
    rd_kafka_conf_destroy(conf);
    return "sinks." + cfg.name + ": " + err;
  }
  return std::unique_ptr<copy_sink>(std::move(self));
}

kafka_sink::kafka_sink(const sink_config& cfg, metrics& m, std::function<bool()> leading, std::shared_ptr<spdlog::logger> log,
                       record_template topic)
    : copy_sink(cfg, m, std::move(leading), std::move(log)), topic_(std::move(topic)) {}

kafka_sink::~kafka_sink() {
  stop();
  if (rk_) rd_kafka_destroy(rk_);
}

void kafka_sink::start() {
  poller_ = std::thread([this] { poll_loop(); });
  name_thread(poller_, "kafka-sink");
}

void kafka_sink::poll_loop() {
  while (!stop_) {
    rd_kafka_poll(rk_, 100);
    depth_.set(static_cast<double>(buffered()));
  }
}

void kafka_sink::stop() {
  if (!poller_.joinable()) return;
  stop_ = true;
  poller_.join();
  rd_kafka_flush(rk_, 2000);
  if (int left = rd_kafka_outq_len(rk_); left > 0) {
    log_->warn("sink {}: stopping with {} record(s) the brokers did not take; they are dropped", name(), left);
    dropped("shutdown", static_cast<size_t>(left));
    rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(rk_, 0);  // the purged records' reports
  }
}

size_t kafka_sink::buffered() const { return rk_ ? static_cast<size_t>(rd_kafka_outq_len(rk_)) : 0; }

void kafka_sink::take(const std::shared_ptr<const published_record>& r) {
  topic_.render(*r, name_buf_);
  char seq[24], epoch[24];
  int seq_len = std::snprintf(seq, sizeof seq, "%llu", static_cast<unsigned long long>(r->rec.seq));
  int epoch_len = std::snprintf(epoch, sizeof epoch, "%llu", static_cast<unsigned long long>(r->epoch));
  auto rc = rd_kafka_producev(rk_, RD_KAFKA_V_TOPIC(name_buf_.c_str()), RD_KAFKA_V_KEY(r->topic.data(), r->topic.size()),
                              RD_KAFKA_V_VALUE(const_cast<char*>(r->json.data()), r->json.size()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_HEADER("seq", seq, seq_len), RD_KAFKA_V_HEADER("epoch", epoch, epoch_len), RD_KAFKA_V_END);
  if (rc == RD_KAFKA_RESP_ERR__QUEUE_FULL) return dropped("buffer_full");
  if (rc) {
    dropped("refused");
    set_failing(true, std::string("produce: ") + rd_kafka_err2str(rc));
  }
}

}  // namespace tributary
