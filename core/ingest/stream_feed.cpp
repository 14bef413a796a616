#include "ingest/stream_feed.hpp"

#include <random>

#include <nlohmann/json.hpp>

#include <spdlog/spdlog.h>

#include "net/redis.hpp"
#include "ingest/runtime.hpp"
#include "ingest/upstreams/ws_upstream.hpp"
#include "obs/metrics.hpp"
#include "ingest/intake.hpp"
#include "util/clock.hpp"
#include "util/thread_name.hpp"
#include "util/wake_batch.hpp"

namespace tributary {

namespace {
constexpr int64_t kBackoffFirstMs = 250, kBackoffMaxMs = 10000;
constexpr millis kPoll{200};  // how often a quiet subscription looks at stop and the gate

// The feed's subjects as the source mapped them; none for `subjects = ["*"]` (any subject).
// Made once: a feed's subjects do not change while it lives (a reload makes a new stream_feed).
feed_request request_of(const feed_runtime& feed, const source_runtime& source) {
  feed_request req{feed.cfg.id, feed.cfg.kind, {}};
  if (auto it = feed.subjects.find(source.name); it != feed.subjects.end()) req.subjects = it->second;
  return req;
}
}  // namespace

stream_feed::stream_feed(feed_runtime& feed, source_runtime& source, intake& out, metrics& m, const clock_source& clock,
                         std::shared_ptr<spdlog::logger> log)
    : feed_(feed), source_(source), out_(out), m_(m), clock_(clock), log_(std::move(log)), request_(request_of(feed, source)) {
  m_.describe("tributary_stream_messages_total", "counter", "Messages from streaming sources, by source and outcome");
  m_.describe("tributary_stream_connects_total", "counter", "Upstream connections of streaming sources, by source and outcome");
  m_.describe("tributary_stream_connected", "gauge", "1 while a streaming source's upstream delivers to this node");
  collector_ = m_.add_collector([this](std::vector<metrics::sample>& out) {
    const auto& src = source_.name;
    out.push_back({"tributary_stream_messages_total", {{"source", src}, {"outcome", "published"}}, double(published_.load())});
    out.push_back({"tributary_stream_messages_total", {{"source", src}, {"outcome", "rejected"}}, double(rejected_.load())});
    out.push_back({"tributary_stream_messages_total", {{"source", src}, {"outcome", "ignored"}}, double(ignored_.load())});
    out.push_back({"tributary_stream_messages_total", {{"source", src}, {"outcome", "skipped"}}, double(skipped_.load())});
    out.push_back({"tributary_stream_connected", {{"source", src}}, connected_ ? 1.0 : 0.0});
    out.push_back({"tributary_stream_connects_total", {{"source", src}, {"outcome", "ok"}}, double(connects_ok_.load())});
    out.push_back({"tributary_stream_connects_total", {{"source", src}, {"outcome", "failed"}}, double(connects_failed_.load())});
  });
}

stream_feed::~stream_feed() {
  stop();
  m_.remove_collector(collector_);
}


void stream_feed::start(std::function<bool()> gate, std::function<void()> on_down) {
  gate_ = std::move(gate);
  on_down_ = std::move(on_down);
  thread_ = std::thread([this] { run(); });
  name_thread(thread_, "push:" + source_.name);
}

void stream_feed::stop() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (recorder_)
    if (auto e = recorder_->flush()) log_->error("feed {}: recording the stream: {}", feed_.cfg.id, *e);
}

bool stream_feed::wait(int64_t ms) {
  std::unique_lock lk(mu_);
  return !cv_.wait_for(lk, std::chrono::milliseconds(ms), [this] { return stop_.load(); });
}

void stream_feed::run() {
  std::mt19937_64 rng(std::random_device{}());
  int attempt = 0;
  while (!stop_) {
    if (gate_ && !gate_()) {  // not ours to hold now (a follower)
      if (!wait(kPoll.count())) return;
      continue;
    }
    renew_ = false;
    int64_t began = clock_.now_ms();
    if (auto permit = source_.breaker->acquire(began)) {
      permit_ = std::move(permit);
      attempt_session();
      permit_.reset();  // no verdict (stopped, or the gate closed): a half-open trial is given back
    }
    if (stop_) return;
    if (renew_) continue;  // the upstream's connection age limit: reconnect at once
    if (clock_.now_ms() - began > 30000) attempt = 0;  // it ran a while: start backing off afresh
    int64_t base = std::min(kBackoffMaxMs, kBackoffFirstMs << std::min(attempt++, 6));
    int64_t delay = base / 2 + static_cast<int64_t>(rng() % static_cast<uint64_t>(base));  // +-50 %
    if (!wait(delay)) return;
  }
}

// Plans the upstream and holds it until it fails, the gate closes or we stop; a failure
// hands the feed to its polled fallback sources until the stream delivers again.
void stream_feed::attempt_session() {
  std::optional<std::string> failure;
  auto plan = source_.plugin->plan_stream(request_);
  if (auto* e = std::get_if<fetch_error>(&plan)) {
    failure = "it names no upstream: " + e->str();
  } else if (replay_) {
    failure = play(std::get<stream_plan>(plan));
  } else {
    if (recorder_) recorder_->start(std::get<stream_plan>(plan));
    failure = session(std::get<stream_plan>(plan));
    if (recorder_)
      if (auto e = recorder_->flush()) log_->error("feed {}: recording the stream: {}", feed_.cfg.id, *e);
  }
  connected_ = false;
  if (!failure) return;
  log_->warn("feed {}: source {}: {}; reconnecting", feed_.cfg.id, source_.name, *failure);
  connects_failed_++;
  if (permit_) permit_->failure(clock_.now_ms());
  set_up(false);
  std::lock_guard lk(source_.mu);
  source_.failures++;
  source_.last_error_at = clock_.now_ms();
  source_.last_error_class = "retryable";
  source_.last_error = *failure;
}

void stream_feed::set_up(bool up) {
  if (feed_.stream_up.exchange(up) == up || up || feed_.sources.size() < 2) return;
  log_->warn("feed {}: stream source {} is down; polling {} until it is back", feed_.cfg.id, source_.name, feed_.sources[1]->name);
  if (on_down_) on_down_();
}

std::variant<const stream_cassette*, std::string> stream_feed::cassette_for(const stream_plan& plan) const {
  return find_stream_cassette(replay_->cassettes, replay_->dir, plan, *replay_->secrets);
}

// `--replay`: the cassette's messages at their recorded offsets; then a quiet upstream.
std::optional<std::string> stream_feed::play(const stream_plan& plan) {
  auto found = cassette_for(plan);
  if (auto* e = std::get_if<std::string>(&found)) return *e;
  const auto& tape = *std::get<const stream_cassette*>(found);
  log_->info("feed {}: source {} replays {} ({} messages)", feed_.cfg.id, source_.name, tape.file, tape.messages.size());
  subscribed(1, 0);
  int64_t start = clock_.now_ms();
  for (const auto& m : tape.messages) {
    for (int64_t now = clock_.now_ms(); holding() && now < start + m.after_ms; now = clock_.now_ms())
      wait(std::min<int64_t>(start + m.after_ms - now, kPoll.count()));
    if (!holding()) return std::nullopt;
    take_recorded(plan, m);
  }
  while (holding()) wait(kPoll.count());
  return std::nullopt;
}

// A cassette's message, as its upstream would have handed it over.
void stream_feed::take_recorded(const stream_plan& plan, const stream_cassette::message& m) {
  std::vector<upstream_message::header> headers;
  for (auto& [k, v] : m.headers) headers.emplace_back(k, v);
  upstream_message um{m.channel.empty() ? upstream_name(plan.upstream) : std::string_view(m.channel), m.text, m.key, headers.data(),
                      headers.size()};
  on_message(um);
}

run_outcome stream_feed::replay_once() {
  run_outcome out;
  auto plan = source_.plugin->plan_stream(request_);
  if (auto* e = std::get_if<fetch_error>(&plan)) {
    out.errors.push_back(*e);
    return out;
  }
  auto found = replay_ ? cassette_for(std::get<stream_plan>(plan)) : std::string("streams are replayed only with --replay");
  if (auto* e = std::get_if<std::string>(&found)) {
    out.errors.push_back({error_class::bad_request, *e, {}, 0});
    return out;
  }
  capture_ = &out;
  for (const auto& m : std::get<const stream_cassette*>(found)->messages) take_recorded(std::get<stream_plan>(plan), m);
  capture_ = nullptr;
  return out;
}

// One upstream connection: subscribe, then read until it fails, the gate closes or we stop.
std::optional<std::string> stream_feed::session(const stream_plan& plan) {
  if (plan.upstream == stream_plan::kind::websocket) return read_websocket(plan);
  if (plan.upstream == stream_plan::kind::kafka) return read_kafka(plan);
  auto ep = parse_redis_url_or_why(plan.url);  // the reason never quotes the URL: it may hold a password
  if (auto* why = std::get_if<std::string>(&ep)) return "its upstream URL: " + *why;
  redis_client redis(std::get<redis_endpoint>(ep), millis(2000));
  return plan.upstream == stream_plan::kind::redis_stream ? read_streams(redis, plan) : read_pubsub(redis, plan);
}

// A WebSocket upstream: connect (TLS for wss), send the plugin's subscribe frames, then read.
// Pings are answered by the client; silence beyond the idle timeout or the plugin's expected
// interval is a failure; at the plugin's maximum connection age the host reconnects at once.
std::optional<std::string> stream_feed::read_websocket(const stream_plan& plan) {
  ws_upstream::options opt;
  if (plan.expected_interval_ms > 0) opt.idle_timeout = millis(std::clamp<int64_t>(3 * plan.expected_interval_ms, 2000, 60000));
  ws_upstream ws(opt);
  if (auto e = ws.connect(plan.url)) return e;
  for (const auto& frame : plan.subscribe_frames)
    if (auto e = ws.send(frame)) return e;
  subscribed(1, 0);
  int64_t opened = clock_.now_ms();
  while (holding()) {
    if (auto why = silent(plan)) return why;
    if (plan.max_connection_ms > 0 && clock_.now_ms() - opened >= plan.max_connection_ms) {
      log_->info("feed {}: source {}: connection {} ms old, the upstream's limit; reconnecting", feed_.cfg.id, source_.name,
                 plan.max_connection_ms);
      renew_ = true;
      break;
    }
    auto got = ws.next(kPoll);
    if (got.st == ws_read::status::closed) return got.text;
    if (got.st == ws_read::status::message) on_message({"websocket", got.text});
  }
  ws.close();
  return std::nullopt;
}

// The upstream delivers: the circuit closes and the polled fallback stands down.
void stream_feed::delivered() {
  if (permit_) {
    permit_->success();
    permit_.reset();
  }
  set_up(true);
}

bool stream_feed::holding() const { return !stop_ && (!gate_ || gate_()); }

std::optional<std::string> stream_feed::unready() const {
  if (!started() || replay_ || !holding() || connected_ || feed_.sources.size() > 1) return std::nullopt;
  std::lock_guard lk(source_.mu);
  return "stream source " + source_.name + " is down" + (source_.last_error.empty() ? "" : ": " + source_.last_error);
}

std::optional<std::string> stream_feed::silent(const stream_plan& plan) const {
  if (plan.expected_interval_ms <= 0) return std::nullopt;
  int64_t quiet = clock_.now_ms() - last_message_;
  if (quiet < 3 * plan.expected_interval_ms) return std::nullopt;
  return "no message for " + std::to_string(quiet) + " ms (3 x the expected " + std::to_string(plan.expected_interval_ms) + " ms)";
}

void stream_feed::subscribed(size_t channels, size_t patterns) {
  connects_ok_++;
  last_message_ = clock_.now_ms();
  log_->info("feed {}: source {} subscribed to {} channel(s) or stream(s), {} pattern(s)", feed_.cfg.id, source_.name, channels, patterns);
  connected_ = true;
  set_up(true);  // up once subscribed, not only at its next message (a quiet channel is not down)
}

// Redis pub/sub: at most once; what is published while we are away is not seen.
std::optional<std::string> stream_feed::read_pubsub(redis_client& redis, const stream_plan& plan) {
  for (auto [verb, names] : {std::pair{"SUBSCRIBE", &plan.channels}, std::pair{"PSUBSCRIBE", &plan.patterns}}) {
    if (names->empty()) continue;
    std::vector<std::string> argv{verb};
    argv.insert(argv.end(), names->begin(), names->end());
    auto r = redis.command(argv);
    if (auto* e = std::get_if<std::string>(&r)) return *e;
    if (std::get<redis_reply>(r).is_error()) return std::get<redis_reply>(r).str;
  }
  subscribed(plan.channels.size(), plan.patterns.size());
  redis_reply push;  // used again: its strings keep their room
  while (holding()) {
    if (auto why = silent(plan)) return why;
    if (auto why = read_pushes(redis, push)) return why;
  }
  return std::nullopt;
}

// A message (waited for up to kPoll), then those read with it already, up to kPushBatch: the
// plugin reads them all first, then what it made is published, so each stage's code stays in
// cache across the batch, and the I/O threads are woken once for all of them. The bound keeps a
// flood that is always a read ahead from holding the wake-ups back for good.
std::optional<std::string> stream_feed::read_pushes(redis_client& redis, redis_reply& push) {
  constexpr size_t kPushBatch = 128;
  if (staged_.size() < kPushBatch) {
    staged_.resize(kPushBatch);
    // A message mostly makes one record: 128 results side by side keep two each, not 64 (up
    // to 48 KiB a record), or a feed of many-record messages would pin hundreds of MiB.
    for (auto& s : staged_) s.res.keep_at_most(2);
  }
  size_t n = 0;
  std::optional<std::string> failed;
  for (auto wait = kPoll; n < kPushBatch && holding(); wait = millis(0)) {
    auto got = redis.next_push_into(wait, push);
    if (auto* e = std::get_if<std::string>(&got)) {
      failed = *e;  // what was read before still goes out
      break;
    }
    if (!std::get<bool>(got)) break;
    if (auto m = message_of(push)) parse(*m, staged_[n++]);
    if (!redis.buffered()) break;
  }
  wake_batch wakes;
  for (size_t i = 0; i < n; ++i) publish(staged_[i]);
  return failed;
}

// A pub/sub message's channel and payload (pattern messages too); nullopt for anything else.
std::optional<upstream_message> stream_feed::message_of(const redis_reply& push) {
  if (push.elements.size() < 3) return std::nullopt;
  const auto& type = push.elements[0].str;
  if (type == "message") return upstream_message{push.elements[1].str, push.elements[2].str};
  if (type == "pmessage" && push.elements.size() >= 4) return upstream_message{push.elements[2].str, push.elements[3].str};
  return std::nullopt;
}

// Redis streams with a consumer group: first this consumer's entries delivered before and never
// acknowledged (a crash, or the previous leader under the same consumer name), then new ones.
// An entry is acknowledged once its records are published (or it was rejected).
std::optional<std::string> stream_feed::read_streams(redis_client& redis, const stream_plan& plan) {
  for (auto& key : plan.channels) {
    auto r = redis.command({"XGROUP", "CREATE", key, plan.group, "$", "MKSTREAM"});
    if (auto* e = std::get_if<std::string>(&r)) return *e;
    auto& rep = std::get<redis_reply>(r);
    if (rep.is_error() && rep.str.rfind("BUSYGROUP", 0) != 0) return "XGROUP CREATE " + key + ": " + rep.str;
  }
  subscribed(plan.channels.size(), 0);
  std::string from = "0";
  while (holding()) {
    if (auto why = silent(plan)) return why;
    std::vector<std::string> argv{"XREADGROUP", "GROUP", plan.group, plan.consumer, "COUNT", "100"};
    if (from == ">") argv.insert(argv.end(), {"BLOCK", std::to_string(kPoll.count())});
    argv.push_back("STREAMS");
    argv.insert(argv.end(), plan.channels.begin(), plan.channels.end());
    argv.insert(argv.end(), plan.channels.size(), from);
    auto r = redis.command(argv);
    if (auto* e = std::get_if<std::string>(&r)) return *e;
    auto& rep = std::get<redis_reply>(r);
    if (rep.is_error()) return "XREADGROUP: " + rep.str;
    if (!take_entries(redis, plan, rep) && from == "0") from = ">";
  }
  return std::nullopt;
}

// Hands every entry of an XREADGROUP reply to the plugin, then acknowledges them. Returns
// whether there was any.
bool stream_feed::take_entries(redis_client& redis, const stream_plan& plan, const redis_reply& rep) {
  bool any = false;
  for (auto& stream : rep.elements) {
    if (stream.elements.size() != 2) continue;
    const std::string& key = stream.elements[0].str;
    std::vector<std::string> ack{"XACK", key, plan.group};
    for (auto& entry : stream.elements[1].elements) {
      if (entry.elements.size() != 2) continue;
      any = true;
      nlohmann::json fields = nlohmann::json::object();
      auto& kv = entry.elements[1].elements;
      for (size_t i = 0; i + 1 < kv.size(); i += 2) fields[kv[i].str] = kv[i + 1].str;
      if (!fields.empty()) on_message({key, fields.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)});
      ack.push_back(entry.elements[0].str);
    }
    if (ack.size() > 3) redis.command(ack);  // a failed ack redelivers the entries: seq-safe, at least once
  }
  return any;
}

bool stream_feed::on_message(upstream_message m, const upstream_position& at) {
  parse(m, parsed_);
  return publish(parsed_, at);
}

void stream_feed::parse(upstream_message m, parsed_message& p) {
  int64_t now = clock_.now_ms();
  last_message_ = now;
  m.received_ms = now;
  p.at_ms = now;
  auto& res = p.res;  // reused message after message: no allocation once its records have grown
  source_.plugin->parse_message(request_, m, res);
  if (recorder_) {
    recorder_->add(m, now);
    if (now - last_flush_ >= 5000) {
      last_flush_ = now;
      if (auto e = recorder_->flush()) log_->error("feed {}: recording the stream: {}", feed_.cfg.id, *e);
    }
  }
  if (!res.errors.empty() && now - last_bad_log_ >= 1000) {  // a flood of bad messages logs once a second
    last_bad_log_ = now;
    log_->warn("feed {}: source {}: a message on '{}' was rejected: {}", feed_.cfg.id, source_.name, m.channel.substr(0, 128),
               res.errors.front().str());
  }
}

bool stream_feed::publish(parsed_message& p, const upstream_position& at) {
  auto& res = p.res;
  int64_t now = p.at_ms;
  if (!res.records.empty()) delivered();
  if (capture_) capture_->errors.insert(capture_->errors.end(), res.errors.begin(), res.errors.end());
  out_.contract_problems(source_.name, res.problems);
  {
    std::lock_guard lk(source_.mu);
    source_.requests++;
    if (!res.records.empty()) source_.last_success = now;
  }
  if (res.records.empty() && res.errors.empty()) ignored_++;  // a control frame, or a subject the feed does not take
  if (!res.errors.empty()) rejected_++;
  for (size_t i = 0; i < res.records.size(); ++i) {  // the message's position goes with its last record
    published_++;
    record_origin origin{source_.name, feed_.cfg.id, now, i + 1 == res.records.size() ? at : upstream_position{}};
    auto published = out_.publish(std::move(res.records[i]), origin);  // its data moved; the result keeps its strings' room
    if (capture_ && published) capture_->published.push_back(std::move(published));
  }
  std::lock_guard lk(feed_.mu);
  feed_.last_run = now;
  if (!res.records.empty()) {
    feed_.last_success = now;
    feed_.last_source = source_.name;
    feed_.runs++;
  }
  return !res.records.empty();
}

}  // namespace tributary
