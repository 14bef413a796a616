#include "ingest/upstreams/kafka_consumer.hpp"

#include <cstring>

#include <librdkafka/rdkafka.h>

namespace tributary {

namespace {

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::vector<kafka_partition> partitions_of(const rd_kafka_topic_partition_list_t* list) {
  std::vector<kafka_partition> out;
  for (int i = 0; list && i < list->cnt; ++i) out.push_back({list->elems[i].topic, list->elems[i].partition});
  return out;
}

// Defaults fit for a push source; any of them may be overridden by the plugin's settings.
const std::pair<const char*, const char*> kDefaults[] = {
    {"enable.auto.commit", "false"},       // committed by the caller once published
    {"enable.auto.offset.store", "false"},
    {"enable.partition.eof", "false"},
    {"session.timeout.ms", "10000"},       // a killed leader's partitions are free again within 10 s
    {"heartbeat.interval.ms", "1000"},
    {"fetch.wait.max.ms", "100"},          // a broker that holds an empty fetch holds it no longer than this
    {"socket.nagle.disable", "true"},      // no Nagle delay on fetches and commits
    {"reconnect.backoff.ms", "100"},
    {"reconnect.backoff.max.ms", "2000"},
    {"log_level", "4"},                    // warnings and worse reach the host's log
};

}  // namespace

struct kafka_callbacks {
  static void error(rd_kafka_t*, int err, const char* reason, void* opaque) {
    auto* self = static_cast<kafka_consumer*>(opaque);
    self->last_error_ = reason ? reason : rd_kafka_err2str(static_cast<rd_kafka_resp_err_t>(err));
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) self->up_ = false;
  }

  static void rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts, void* opaque) {
    auto* self = static_cast<kafka_consumer*>(opaque);
    bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      if (!self->earliest_) start_at_end(rk, parts);
      self->listener_->assigned(partitions_of(parts));
      if (cooperative) rd_kafka_error_destroy(rd_kafka_incremental_assign(rk, parts));
      else rd_kafka_assign(rk, parts);
      return;
    }
    self->listener_->revoked(partitions_of(parts));  // commits what is published, while still ours
    if (cooperative) rd_kafka_error_destroy(rd_kafka_incremental_unassign(rk, parts));
    else rd_kafka_assign(rk, nullptr);
  }

  // `start = "latest"` for partitions the group never committed: the end as of now, so that
  // what is produced once the assignment is reported is read (librdkafka would look the end
  // up only when it first fetches, later).
  static void start_at_end(rd_kafka_t* rk, rd_kafka_topic_partition_list_t* parts) {
    if (rd_kafka_committed(rk, parts, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
    for (int i = 0; i < parts->cnt; ++i) {
      auto& p = parts->elems[i];
      int64_t low = 0, high = 0;
      if (p.offset < 0 && rd_kafka_query_watermark_offsets(rk, p.topic, p.partition, &low, &high, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR)
        p.offset = high;
    }
  }

  static void log(const rd_kafka_t* rk, int level, const char*, const char* text) {
    auto* self = static_cast<kafka_consumer*>(rd_kafka_opaque(rk));
    if (self && self->listener_) self->listener_->client_log(level, text);
  }
};

std::variant<std::unique_ptr<kafka_consumer>, std::string> kafka_consumer::open(const options& opts, listener& l) {
  std::unique_ptr<kafka_consumer> self(new kafka_consumer);
  self->listener_ = &l;
  self->earliest_ = opts.earliest;
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  auto set = [&](const std::string& k, const std::string& v, bool secret_value) -> std::optional<std::string> {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) == RD_KAFKA_CONF_OK) return std::nullopt;
    return "Kafka setting " + k + (secret_value ? "" : " = '" + v + "'") + ": " + err;
  };
  std::vector<std::pair<std::string, std::string>> all{{"bootstrap.servers", opts.brokers},
                                                       {"group.id", opts.group},
                                                       {"client.id", opts.client_id},
                                                       {"auto.offset.reset", opts.earliest ? "earliest" : "latest"}};
  for (auto& [k, v] : kDefaults) all.emplace_back(k, v);
  all.insert(all.end(), opts.client_settings.begin(), opts.client_settings.end());
  for (auto& [k, v] : all)
    if (auto why = set(k, v, k.find("password") != std::string::npos || k.find("secret") != std::string::npos)) {
      rd_kafka_conf_destroy(conf);
      return *why;
    }
  rd_kafka_conf_set_opaque(conf, self.get());
  rd_kafka_conf_set_error_cb(conf, &kafka_callbacks::error);
  rd_kafka_conf_set_rebalance_cb(conf, &kafka_callbacks::rebalance);
  rd_kafka_conf_set_log_cb(conf, &kafka_callbacks::log);
  self->rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);  // owns conf from here on, if it succeeds
  if (!self->rk_) {
    rd_kafka_conf_destroy(conf);
    return std::string("Kafka consumer: ") + err;
  }
  rd_kafka_poll_set_consumer(self->rk_);
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(static_cast<int>(opts.topics.size()));
  for (auto& t : opts.topics) rd_kafka_topic_partition_list_add(topics, t.c_str(), RD_KAFKA_PARTITION_UA);
  auto rc = rd_kafka_subscribe(self->rk_, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (rc) return std::string("Kafka subscribe: ") + rd_kafka_err2str(rc);
  return self;
}

kafka_consumer::~kafka_consumer() {
  if (held_) rd_kafka_message_destroy(held_);
  if (!rk_) return;
  rd_kafka_consumer_close(rk_);  // leaves the group: its partitions go to another member at once
  rd_kafka_destroy(rk_);
}

kafka_consumer::polled kafka_consumer::poll(millis wait, message& out, std::string& error) {
  if (held_) {
    rd_kafka_message_destroy(held_);
    held_ = nullptr;
  }
  check_brokers();
  if (auto fatal = rd_kafka_fatal_error(rk_, nullptr, 0)) {
    error = std::string("Kafka: ") + rd_kafka_err2str(fatal);
    return polled::failed;
  }
  rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, static_cast<int>(wait.count()));
  if (!m) return polled::nothing;
  if (m->err) {  // a consumer error: recoverable ones are retried by librdkafka itself
    last_error_ = rd_kafka_message_errstr(m);
    bool fatal = m->err == RD_KAFKA_RESP_ERR__FATAL;
    rd_kafka_message_destroy(m);
    if (fatal) error = "Kafka: " + last_error_;
    return fatal ? polled::failed : polled::nothing;
  }
  up_ = true;
  last_answer_ms_ = steady_ms();
  misses_ = 0;
  held_ = m;
  out.topic = rd_kafka_topic_name(m->rkt);
  out.partition = m->partition;
  out.offset = m->offset;
  out.key = m->key ? std::string_view(static_cast<const char*>(m->key), m->key_len) : std::string_view();
  out.payload = m->payload ? std::string_view(static_cast<const char*>(m->payload), m->len) : std::string_view();
  out.headers.clear();
  rd_kafka_headers_t* hdrs = nullptr;
  if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* name;
    const void* value;
    size_t size;
    for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i)
      out.headers.emplace_back(name, value ? std::string_view(static_cast<const char*>(value), size) : std::string_view());
  }
  return polled::message;
}

// Asks a broker for metadata when nothing was heard for a second: an answer means the brokers
// are up (again); two probes in a row without one mean they are down, whether or not librdkafka
// has said "all brokers down" (it does not when some were never connected).
void kafka_consumer::check_brokers() {
  int64_t now = steady_ms();
  if (now - last_answer_ms_ < 1000 || now - last_check_ms_ < 1000) return;
  last_check_ms_ = now;
  const rd_kafka_metadata_t* md = nullptr;
  auto rc = rd_kafka_metadata(rk_, 0, nullptr, &md, 500);
  if (rc == RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_metadata_destroy(md);
    up_ = true;
    last_answer_ms_ = steady_ms();
    misses_ = 0;
  } else if (++misses_ >= 2 && up_) {
    last_error_ = std::string("no broker answers (") + rd_kafka_err2str(rc) + ")";
    up_ = false;
  }
}

void kafka_consumer::commit(const std::vector<kafka_commit>& offsets, bool sync) {
  if (offsets.empty()) return;
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size()));
  for (auto& c : offsets) rd_kafka_topic_partition_list_add(list, c.topic.c_str(), c.partition)->offset = c.next_offset;
  if (auto rc = rd_kafka_commit(rk_, list, sync ? 0 : 1); rc && sync) last_error_ = std::string("commit: ") + rd_kafka_err2str(rc);
  rd_kafka_topic_partition_list_destroy(list);
}

}  // namespace tributary
