#include "app/host.hpp"

#include <algorithm>
#include <shared_mutex>

#include <future>

#include <unistd.h>

#include <spdlog/spdlog.h>

#include "app/feed_factory.hpp"
#include "app/history_epoch.hpp"
#include "auth/jwks.hpp"
#include "app/source_factory.hpp"
#include "config/server_settings.hpp"
#include "cluster/cluster_node.hpp"
#include "ingest/intake.hpp"
#include "ingest/limits/redis_limits.hpp"
#include "publish/delivery.hpp"
#include "publish/memory_broker.hpp"
#include "publish/redis_broker.hpp"
#include "server/frames.hpp"
#include "sink/fenced_writer.hpp"
#include "sink/stream_writer.hpp"
#include "net/transport.hpp"
#include "record/record.hpp"
#include "ingest/runtime.hpp"
#include "ingest/stream_cassette.hpp"
#include "obs/process_metrics.hpp"
#include "ingest/stream_feed.hpp"
#include "sink/copy_sink.hpp"
#include "server/server.hpp"
#include "app/request_plan.hpp"
#include "publish/view_engine.hpp"
#include "ingest/demand.hpp"
#include "publish/cache.hpp"
#include "publish/fanout_hub.hpp"
#include "obs/metrics.hpp"
#include "util/clock.hpp"
#include "util/listen.hpp"
#include "util/redactor.hpp"

namespace tributary {

namespace fs = std::filesystem;
using json = nlohmann::json;

struct host::work {
  std::map<std::string, std::shared_ptr<plugin_library>> libs;
  // Shared: a reload keeps the unchanged ones, so the old work and the new one hold them both.
  std::vector<std::shared_ptr<source_runtime>> sources;
  std::vector<std::shared_ptr<feed_runtime>> feeds;
  std::vector<std::shared_ptr<stream_feed>> streams;  // feeds with mode = "stream"; kept by a reload with their feed
  std::unique_ptr<scheduler> sched;
  // What each source was made from, so a reload keeps the sources (and feeds) it does not change.
  std::map<std::string, plugin_instance_config> made_from;
  std::map<std::string, std::filesystem::file_time_type> lib_time;
};

struct host::parts {
  system_clock_source system_clock;
  const clock_source* clock = &system_clock;
  std::shared_ptr<redactor> secrets;
  std::shared_ptr<spdlog::logger> log;
  metrics m;
  record_cache cache;
  std::unique_ptr<fanout_hub> hub;
  std::unique_ptr<cluster_node> cluster;  // cluster mode only: the lease and the role
  std::unique_ptr<broker> out;            // memory (standalone) or redis (cluster)
  memory_broker* standalone = nullptr;    // `out` in standalone mode
  std::unique_ptr<delivery> deliver;      // the broker's on_publication handler
  std::unique_ptr<intake> in;             // every record enters here
  std::unique_ptr<view_engine> views;
  std::unique_ptr<http_transport> http;
  std::unique_ptr<jwks_fetcher> jwks;  // [server.auth] jwks_url; after `http`: stopped before it
  timer_queue timers;
  std::unique_ptr<feed_runner> runner;
  // What the config's plugins and feeds make; replaced whole by a reload. Readers from other
  // threads (status, control) hold work_mu shared.
  std::unique_ptr<host::work> w;
  std::vector<std::unique_ptr<host::work>> retired;  // replaced by a reload, kept while runs of theirs are in flight
  std::shared_ptr<redis_limits> limits;              // cluster mode: budgets and pauses shared through Redis
  mutable std::shared_mutex work_mu;
  host_options opts;
  uint64_t generation = 1;  // of the config: 1 at start, +1 per reload
  int64_t loaded_at = 0;
  std::mutex reload_mu;     // one reload at a time
  std::unique_ptr<stream_writer> stream;  // standalone with [stream] enabled: a copy of every publication
  std::vector<std::unique_ptr<copy_sink>> sinks;  // [sinks.*]; kept as started (a change waits for a restart)
  std::unique_ptr<demand_tracker> demand;  // demand = "subscribed" feeds: who wants what; outlives the server
  std::unique_ptr<server> srv;
  int64_t started = 0;
  std::string node_id;
  std::string hostname, cfg_cluster_name;  // the default Kafka group: tributary-<cluster name or host name>
};

host::host() : p_(std::make_unique<parts>()) {}

host::~host() { stop(); }

// The stream feeds (mode = "stream"), held by their first source; with --replay they play
// the stream cassettes in that directory, with --record they write one. A feed a reload kept
// keeps its stream, connected.
bool host::make_streams(parts& p, work& w, const host_options& opts, std::vector<diagnostic>& diags, const work* previous) {
  std::shared_ptr<stream_replay> replay;
  if (opts.replay) {
    auto loaded = load_stream_cassettes(*opts.replay);
    if (auto* e = std::get_if<std::string>(&loaded)) {
      diags.push_back({diagnostic::level::error, {opts.replay->string(), 0, 0}, "--replay", *e});
      return false;
    }
    replay = std::make_shared<stream_replay>(
        stream_replay{std::move(std::get<std::vector<stream_cassette>>(loaded)), *opts.replay, p.secrets});
  }
  for (auto& f : w.feeds) {
    if (!f->cfg.stream || f->sources.empty()) continue;
    auto kept = previous ? std::find_if(previous->streams.begin(), previous->streams.end(), [&](auto& st) { return &st->feed() == f.get(); })
                         : w.streams.end();
    if (previous && kept != previous->streams.end()) {
      w.streams.push_back(*kept);
      continue;
    }
    auto& st = w.streams.emplace_back(std::make_shared<stream_feed>(*f, *f->sources.front(), *p.in, p.m, *p.clock, p.log));
    st->default_group("tributary-" + (p.cluster ? p.cfg_cluster_name : p.hostname));
    if (replay) st->replay_from(replay);
    else if (opts.record) st->record_to(std::make_unique<stream_recorder>(*opts.record, f->cfg.id, f->sources.front()->name, *p.secrets));
  }
  return true;
}

static std::filesystem::file_time_type library_time(const std::vector<std::filesystem::path>& dirs, const std::string& plugin) {
  std::error_code ec;
  auto file = find_plugin(dirs, plugin);
  auto t = file ? std::filesystem::last_write_time(*file, ec) : std::filesystem::file_time_type{};
  return ec ? std::filesystem::file_time_type{} : t;
}

// The previous work's source of the same name, taken out of it, when its config and its
// library file are unchanged; else nullptr.
std::shared_ptr<source_runtime> host::keep_source(work& previous, const plugin_instance_config& pc,
                                                  std::filesystem::file_time_type file_time) {
  auto made = previous.made_from.find(pc.name);
  auto t = previous.lib_time.find(pc.name);
  if (made == previous.made_from.end() || t == previous.lib_time.end() || t->second != file_time ||
      !same_instance(made->second, pc))
    return nullptr;
  for (auto& s : previous.sources)
    if (s->name == pc.name) return s;
  return nullptr;
}

// The previous work's feed of the same id when nothing about it changed: config, and the very
// same (kept) sources with the same subjects.
std::shared_ptr<feed_runtime> host::keep_feed(work& previous, const feed_runtime& f) {
  for (auto& old : previous.feeds)
    if (old->cfg.id == f.cfg.id && same_feed(old->cfg, f.cfg) && old->sources == f.sources && old->subjects == f.subjects)
      return old;
  return nullptr;
}

// A [server.auth] public key the server could not use is a config error, found by check too.
static void check_jwt_key(const config& cfg, const report_error& err) {
  if (cfg.server.auth.mode != auth_mode::jwt || cfg.server.auth.jwt_public_key.empty()) return;
  try {
    jwt_options key_only;
    key_only.public_key_pem = cfg.server.auth.jwt_public_key;
    jwt_verifier check(key_only);
  } catch (const std::exception& e) {
    err({cfg.file.string(), 0, 0}, "server.auth.jwt_public_key", cfg.server.auth.jwt_public_key_file + ": " + e.what());
  }
}

// Every view field must name a topic some feed makes (or another view) and, for a kind with a
// vocabulary, one of its fields: a misspelling is an error with a did-you-mean, not a view
// that stays empty.
static void check_view_inputs(const config& cfg, const report_error& err) {
  std::vector<std::string> topics;
  auto makes = [&](const std::string& topic) {
    for (const auto& f : cfg.feeds)
      for (const auto& s : f.subjects)
        if (topic == f.kind + "." + s || (s == "*" && topic.rfind(f.kind + ".", 0) == 0)) return true;
    for (const auto& v : cfg.views)
      if (topic == std::string(view_engine::kind) + "." + v.name) return true;
    return false;
  };
  for (const auto& f : cfg.feeds)
    for (const auto& s : f.subjects) topics.push_back(f.kind + "." + s);
  for (const auto& v : cfg.views)
    for (const auto& field : v.fields) {
      std::string path = "views." + v.name + ".fields." + field.out;
      if (!makes(field.topic)) {
        std::string msg = "no feed makes topic '" + field.topic + "'";
        if (auto near = closest(field.topic, topics)) msg += " (did you mean '" + *near + "'?)";
        err(v.where, path, msg);
        continue;
      }
      auto kind = field.topic.substr(0, field.topic.find('.'));
      if (kind == view_engine::kind || vocabulary::free_form(kind) || vocabulary::field(kind, field.field)) continue;
      std::string msg = "'" + field.field + "' is not a field of kind " + kind;
      if (auto near = closest(field.field, vocabulary::field_names(kind))) msg += " (did you mean '" + *near + "'?)";
      err(v.where, path, msg);
    }
}

// The plugin instances and feeds of `cfg` into `w`; false (with diagnostics) on any error.
bool host::build_work(parts& p, work& w, const config& cfg, std::vector<diagnostic>& diags, work* previous) {
  size_t errors_before = std::count_if(diags.begin(), diags.end(), [](auto& d) { return d.severity == diagnostic::level::error; });
  report_error err = [&](source_pos where, std::string path, std::string msg) {
    diags.push_back({diagnostic::level::error, std::move(where), std::move(path), p.secrets->scrub(msg)});
  };
  source_factory sources(cfg.host.plugin_dirs, *p.secrets, p.m, *p.clock, p.log, err);
  std::map<std::string, source_runtime*> by_name;
  for (const auto& pc : cfg.plugins) {
    if (!pc.enabled) continue;
    auto file_time = library_time(cfg.host.plugin_dirs, pc.plugin);
    std::shared_ptr<source_runtime> s = previous ? keep_source(*previous, pc, file_time) : nullptr;  // unchanged: budget, circuit and counts go on
    if (!s) s = sources.make(pc);
    if (!s) continue;
    by_name[pc.name] = s.get();
    w.made_from[pc.name] = pc;
    w.lib_time[pc.name] = file_time;
    w.sources.push_back(std::move(s));
  }
  w.libs = sources.libraries();
  for (const auto& fc : cfg.feeds) {
    auto f = make_feed(fc, by_name, err);
    if (!f) continue;
    if (previous)
      if (auto kept = keep_feed(*previous, *f)) f = std::move(kept);  // unchanged: its schedule and status go on
    if (fc.demand == feed_config::demand_mode::subscribed) f->demand = p.demand.get();
    w.feeds.push_back(std::move(f));
  }
  check_jwt_key(cfg, err);
  check_view_inputs(cfg, err);
  size_t errors_after = std::count_if(diags.begin(), diags.end(), [](auto& d) { return d.severity == diagnostic::level::error; });
  return errors_after == errors_before;
}


// The topics demand = "subscribed" feeds poll only when wanted, and those views read (always
// wanted).
void host::watch_demand(parts& p, const work& w, const std::vector<view_config>& views) {
  std::set<std::string> topics, read_by_views;
  for (auto& f : w.feeds)
    if (f->demand)
      for (auto& s : f->cfg.subjects) topics.insert(f->cfg.kind + "." + s);
  for (auto& v : views)
    for (auto& field : v.fields) read_by_views.insert(field.topic);
  p.demand->watch(topics, read_by_views);
}

// The broker for the config's mode, the standalone stream copy, and what every publication
// feeds (cache, hub, views) behind one intake.
bool host::make_publish_path(parts& p, const config& cfg, std::vector<diagnostic>& diags) {
  broker_kind kind = cfg.cluster.mode == cluster_mode::redis ? broker_kind::redis : broker_kind::memory;
  auto ep = parse_redis_url(cfg.cluster.redis_url);
  if (!ep && (kind == broker_kind::redis || cfg.stream.enabled)) {
    diags.push_back({diagnostic::level::error, {cfg.file.string(), 0, 0}, "cluster.redis_url", "not a redis:// URL"});
    return false;
  }
  stream_options so;
  so.redis = ep.value_or(redis_endpoint{});
  so.name = cfg.cluster.name;
  so.maxlen = cfg.stream.maxlen;
  so.cache_ttl = cfg.cluster.cache_ttl;
  so.buffer = cfg.cluster.buffer;
  history_options ho{cfg.server.history, cfg.server.history_age};
  ho.rules = cfg.server.history_rules;
  if (kind == broker_kind::redis) {
    so.history = ho.make_rules();  // kept in Redis too, so that any node can recover it
    cluster_options co{*ep, cfg.cluster.name, p.node_id, cfg.cluster.lease, cfg.cluster.renew_every};
    p.cluster = std::make_unique<cluster_node>(co, p.m, *p.clock, p.log);
    p.cluster->share_demand(std::make_unique<demand_share>(
        "tributary:" + cfg.cluster.name + ":demand", p.node_id, [d = p.demand.get()] { return d->local(); },
        [d = p.demand.get()](const demand_share::topics& all) { d->remote(all); }, [d = p.demand.get()] { return d->watching(); }));
    redis_broker_options bo{so, cfg.cluster.on_redis_down == redis_down_policy::fetch};
    p.out = std::make_unique<redis_broker>(bo, *p.cluster, &update_frame, p.m, p.log);
    p.limits = std::make_shared<redis_limits>(*ep, cfg.cluster.name);
    share_limits(p, *p.w, cfg);
  } else {
    auto mem = std::make_unique<memory_broker>(&update_frame);
    p.standalone = mem.get();
    p.out = std::move(mem);
  }
  p.hub = std::make_unique<fanout_hub>(ho, p.clock);
  p.deliver = std::make_unique<delivery>(p.cache, p.hub.get());
  if (kind == broker_kind::memory && cfg.stream.enabled) {
    // No election in standalone: epoch 0, so a cluster writing under the same name fences it out.
    stream_hooks hooks;
    hooks.epoch = [] { return uint64_t{0}; };
    p.stream = std::make_unique<stream_writer>(so, p.m, p.log, std::move(hooks));
    p.deliver->add_sink(p.stream.get());
  }
  for (auto& sc : cfg.sinks) {
    auto made = make_sink(sc, p.m, [b = p.out.get()] { return b->publishing(); }, p.log);
    if (auto* e = std::get_if<std::string>(&made)) {
      diags.push_back({diagnostic::level::error, sc.where, "sinks." + sc.name, *e});
      return false;
    }
    p.deliver->add_sink(std::get<std::unique_ptr<copy_sink>>(made).get());
    p.sinks.push_back(std::move(std::get<std::unique_ptr<copy_sink>>(made)));
  }
  p.in = std::make_unique<intake>(*p.out, p.m, p.log);
  if (!cfg.views.empty()) p.views = std::make_unique<view_engine>(cfg.views);
  p.deliver->set_views(
      p.views.get(), [in = p.in.get()](record r) { in->publish(std::move(r)); }, [b = p.out.get()] { return b->publishing(); });
  p.out->on_publication([d = p.deliver.get()](const std::shared_ptr<const published_record>& r) { d->on_publication(r); });
  return true;
}

std::unique_ptr<host> host::create(config cfg, host_options opts, std::shared_ptr<redactor> secrets,
                                   std::shared_ptr<spdlog::logger> log, std::vector<diagnostic>& diags,
                                   const clock_source* clock) {
  std::unique_ptr<host> h(new host());
  auto& p = *h->p_;
  if (clock) p.clock = clock;
  p.secrets = std::move(secrets);
  p.log = std::move(log);
  p.w = std::make_unique<work>();
  p.demand = std::make_unique<demand_tracker>(*p.clock);
  if (!build_work(p, *p.w, cfg, diags)) return nullptr;
  watch_demand(p, *p.w, cfg.views);
  p.demand->on_wanted([&p] {  // a subscriber wants a topic nobody wanted: its feed runs now
    std::shared_lock lk(p.work_mu);
    if (p.w->sched) p.w->sched->wake();
  });

  // Transport.
  if (opts.replay) {
    auto t = make_cassette_transport(*opts.replay, *p.clock);
    if (auto* e = std::get_if<std::string>(&t)) {
      diags.push_back({diagnostic::level::error, {opts.replay->string(), 0, 0}, "--replay", *e});
      return nullptr;
    }
    p.http = std::move(std::get<std::unique_ptr<http_transport>>(t));
  } else {
    p.http = make_curl_transport(*p.clock);
    if (opts.record) p.http = make_recording_transport(std::move(p.http), *opts.record, *p.secrets);
  }
  char hostname[256] = "node";
  ::gethostname(hostname, sizeof hostname - 1);
  p.hostname = hostname;
  p.cfg_cluster_name = cfg.cluster.name;
  p.node_id = std::string(hostname) + "-" + std::to_string(::getpid());
  if (!make_publish_path(p, cfg, diags)) return nullptr;
  p.runner = std::make_unique<feed_runner>(*p.http, *p.clock, p.timers, *p.in, p.m, p.log);
  if (!make_streams(p, *p.w, opts, diags)) return nullptr;
  p.opts = opts;
  p.m.describe("tributary_node_info", "gauge", "This instance: node id and mode");
  p.m.describe("tributary_topics", "gauge", "Topics with a record in the cache");
  p.m.describe("tributary_budget_remaining", "gauge", "Request weight left in each rate_limit window of a source (window: its per)");
  add_process_metrics(p.m);
  p.m.set("tributary_node_info", {{"node", p.node_id}, {"mode", name_of(cfg.cluster.mode)}}, 1);
  if (opts.listen) {
    auto parsed = parse_listen(*opts.listen);
    if (auto* why = std::get_if<std::string>(&parsed)) {
      diags.push_back({diagnostic::level::error, {"command line", 0, 0}, "--listen", *why});
      return nullptr;
    }
    cfg.server.address = std::get<listen_address>(parsed).host;
    cfg.server.port = std::get<listen_address>(parsed).port;
  }
  h->cfg_ = std::move(cfg);
  return h;
}

host::fetch_result host::fetch(const std::string& feed_id, std::function<void(int64_t)> idle) {
  fetch_result r;
  feed_runtime* f = nullptr;
  for (auto& x : p_->w->feeds)
    if (x->cfg.id == feed_id) f = x.get();
  if (!f) {
    std::vector<std::string> ids;
    for (auto& x : p_->w->feeds) ids.push_back(x->cfg.id);
    std::string msg = "no feed '" + feed_id + "' in " + cfg_.file.string();
    if (auto near = closest(feed_id, ids)) msg += " (did you mean '" + *near + "'?)";
    std::string list;
    for (auto& id : ids) list += (list.empty() ? "" : ", ") + id;
    r.errors.push_back(msg + "; its feeds: " + (list.empty() ? "none" : list));
    r.first_error_class = "bad_request";
    r.no_such_feed = true;
    return r;
  }
  if (f->sources.empty()) {
    r.errors.push_back("bad_request: feed '" + feed_id + "' has no enabled source");
    r.first_error_class = "bad_request";
    return r;
  }
  auto o = f->cfg.stream ? replay_stream(*f) : poll_once(*f, std::move(idle));
  for (auto& pr : o.published) r.records.push_back(pr->json);
  for (auto& e : o.errors) r.errors.push_back(p_->secrets->scrub(e.str()));
  for (auto& s : o.skipped) r.errors.push_back("skipped: " + s);
  if (!o.errors.empty()) r.first_error_class = std::string(name_of(o.errors.front().cls));
  r.ok = o.ok();
  return r;
}

run_outcome host::poll_once(feed_runtime& f, std::function<void(int64_t)> idle) {
  std::promise<run_outcome> done;
  auto fut = done.get_future();
  p_->runner->run(f, [&done](run_outcome o) { done.set_value(std::move(o)); });
  while (fut.wait_for(std::chrono::milliseconds(idle ? 0 : 5)) != std::future_status::ready) {
    if (p_->timers.run_due(p_->clock->now_ms()) > 0) continue;
    int64_t due = p_->timers.next_due();
    if (due != INT64_MAX && idle) idle(due);
  }
  return fut.get();
}

// A stream feed fetched once: every message of its stream cassette (--replay) through the plugin.
run_outcome host::replay_stream(feed_runtime& f) {
  for (auto& st : p_->w->streams)
    if (&st->feed() == &f) {
      auto o = st->replay_once();
      if (!o.errors.empty() || o.published.empty()) o.unserved.push_back(f.cfg.id);  // every message must make records
      return o;
    }
  run_outcome o;
  o.errors.push_back({error_class::internal, "feed '" + f.cfg.id + "' has no stream", {}, 0});
  o.unserved.push_back(f.cfg.id);
  return o;
}

// The [server] section (and the views' routes) as the server takes it.
// A view's route, and for a refresh the feeds whose records it reads.
static view_route view_route_of(const config& cfg, const view_config& v) {
  view_route r{v.route, std::string(view_engine::kind) + "." + v.name, v.refresh, v.refresh_auth, {}, {}};
  for (const auto& f : v.fields)
    if (std::find(r.inputs.begin(), r.inputs.end(), f.topic) == r.inputs.end()) r.inputs.push_back(f.topic);
  for (const auto& feed : cfg.feeds) {
    bool feeds_it = std::any_of(r.inputs.begin(), r.inputs.end(), [&](const std::string& topic) {
      if (topic.rfind(feed.kind + ".", 0) != 0) return false;
      auto subject = topic.substr(feed.kind.size() + 1);
      return std::any_of(feed.subjects.begin(), feed.subjects.end(), [&](const std::string& s) { return s == "*" || s == subject; });
    });
    if (feeds_it) r.feeds.push_back(feed.id);
  }
  return r;
}

static server_options server_options_of(const config& cfg) {
  server_options so;
  so.address = cfg.server.address;
  so.port = cfg.server.port;
  so.ws_path = cfg.server.ws_path;
  so.max_connections = cfg.server.max_connections;
  so.max_message_bytes = cfg.server.max_message_bytes;
  so.heartbeat = cfg.server.heartbeat;
  so.queue_limit = cfg.server.queue_limit;
  so.queue_limit_bytes = cfg.server.queue_limit_bytes;
  so.slow_consumer = cfg.server.slow_consumer;
  so.io_threads = cfg.server.io_threads;
  so.admin_token = cfg.server.admin_token;
  so.allowed_origins = cfg.server.allowed_origins;
  auto speaks = [&](client_wire w) { return std::find(cfg.server.protocols.begin(), cfg.server.protocols.end(), w) != cfg.server.protocols.end(); };
  so.tributary_protocol = speaks(client_wire::tributary);
  so.centrifugo_protocol = speaks(client_wire::centrifugo);
  for (const auto& d : cfg.dialects) so.dialects.push_back(std::make_shared<const dialect_spec>(d));
  so.require_origin = cfg.server.require_origin;
  so.compression = cfg.server.compression == compression_mode::automatic;
  so.compression_min_bytes = cfg.server.compression_min_bytes;
  so.compression_context_takeover = cfg.server.compression_context_takeover;
  so.connections_per_ip = cfg.server.limits.connections_per_ip;
  so.messages_per_second = cfg.server.limits.messages_per_second;
  so.messages_burst = cfg.server.limits.messages_burst;
  so.connections_per_user = cfg.server.limits.connections_per_user;
  for (const auto& p : cfg.server.limits.trusted_proxies) so.trusted_proxies.push_back(*parse_cidr(p));
  so.messages_per_minute_per_user = cfg.server.limits.messages_per_minute_per_user;
  if (cfg.cluster.mode == cluster_mode::redis) {  // kept in Redis, across the nodes
    so.user_limits_redis = cfg.cluster.redis_url;
    so.user_limits_prefix = "tributary:" + cfg.cluster.name + ":";
  }
  const auto& auth = cfg.server.auth;
  so.auth = auth.mode == auth_mode::jwt;
  so.jwt = {auth.jwt_secret, auth.jwt_public_key, auth.issuer, auth.audience, auth.user_claim};
  so.public_patterns = auth.public_patterns;
  so.auth_timeout = auth.auth_timeout;
  so.dashboard = cfg.server.dashboard;
  for (auto& v : cfg.views)
    if (!v.route.empty()) so.view_routes.push_back(view_route_of(cfg, v));
  return so;
}

// Standalone with [stream]: the numbering continues after what the stream already holds (a
// restart must not number from 1 again: Redis would keep the records of the previous run).
void host::continue_stream_numbering(parts& p) {
  auto ep = parse_redis_url(cfg_.cluster.redis_url);
  redis_client r(*ep, millis(2000));
  auto held = fenced_writer::written_seqs(r, cfg_.cluster.name);
  if (auto* why = std::get_if<std::string>(&held)) {
    p.log->warn("stream: cannot read the seqs already written ({}); numbering starts at 1, and records Redis holds newer "
                "ones of are counted as duplicate and not written",
                *why);
    return;
  }
  for (auto& [topic, seq] : std::get<std::map<std::string, uint64_t>>(held)) p.standalone->continue_after(topic, seq);
}

unsigned short host::start() {
  auto& p = *p_;
  p.started = p.loaded_at = p.clock->now_ms();
  if (cfg_.server.auth.mode == auth_mode::jwt && !cfg_.server.auth.jwks_url.empty()) {
    p.jwks = std::make_unique<jwks_fetcher>(cfg_.server.auth.jwks_url, cfg_.server.auth.jwks_refresh, *p.http, p.m, p.log);
    p.jwks->start();
  }
  server_options so = with_jwks(server_options_of(cfg_));
  server_hooks hooks;
  hooks.control = [this](const control_request& r) { return control(r); };
  hooks.status_json = [this] { return status_json(); };
  hooks.metrics_text = [this] { return metrics_text(); };
  hooks.subscription_pattern = [&p](const std::string& pattern, bool present) {
    if (p.demand->pattern(pattern, present) && p.cluster) p.cluster->demand_changed();  // tell the leader now
  };
  hooks.ready = [&p] {
    if (p.cluster && !p.cluster->redis_up()) return std::make_pair(false, std::string("redis unreachable"));
    if (auto r = p.out->ready(); !r.first) return r;
    if (p.stream && !p.stream->healthy()) return std::make_pair(false, "stream writes failing: " + p.stream->last_error());
    for (auto& s : p.sinks)
      if (auto why = s->unready()) return std::make_pair(false, *why);
    {
      std::shared_lock lk(p.work_mu);
      for (auto& st : p.w->streams)
        if (auto why = st->unready()) return std::make_pair(false, *why);
    }
    return std::make_pair(true, std::string(p.cluster ? "config loaded, redis reachable" : "config loaded"));
  };
  if (p.cluster) p.hub->set_epoch(cluster_history_epoch(cfg_, p.hub->epoch(), *p.log));
  p.srv = std::make_unique<server>(so, p.cache, *p.hub, p.m, hooks, p.log);
  unsigned short port = p.srv->start();
  if (p.stream) continue_stream_numbering(p);
  if (p.stream) p.stream->start();
  for (auto& s : p.sinks) s->start();
  p.out->start();  // cluster: the latest records first, so a new leader continues each topic's seq
  if (p.cluster) {
    p.cluster->on_control([this](const cluster_control& c) { apply_shared_control(c); });
    p.cluster->start();  // after its hooks are set: its thread reads them
  }
  start_work(*p.w);
  return port;
}

// Starts a work's scheduler and streams; in cluster mode only the leader fetches and holds
// upstreams.
void host::start_work(work& w) {
  auto& p = *p_;
  std::vector<feed_runtime*> feeds;
  for (auto& f : w.feeds)
    if (!f->cfg.stream || f->sources.size() > 1) feeds.push_back(f.get());  // polled, or a stream's polled fallback
  auto sched = std::make_unique<scheduler>(*p.runner, *p.clock, p.timers, feeds);
  // Only a node whose records the broker takes fetches (cluster mode: the leader).
  auto publishing = [b = p.out.get()] { return b->publishing(); };
  sched->set_gate(publishing);
  {
    std::unique_lock lk(p.work_mu);  // kept streams reach it through poll_fallback_now
    w.sched = std::move(sched);
  }
  for (auto& st : w.streams) {
    if (st->started()) continue;  // kept by a reload: still connected
    st->start(publishing, [this, &f = st->feed()] { poll_fallback_now(f); });
  }
  w.sched->start();
}

// A stream has just failed: its feed's fallback sources are polled now, by whichever
// scheduler is current (a stream kept by a reload outlives the scheduler it started under).
void host::poll_fallback_now(feed_runtime& f) {
  std::shared_lock lk(p_->work_mu);
  if (p_->w->sched) p_->w->sched->run_now(f);
}

void host::stop() {
  if (!p_) return;
  if (p_->w->sched) p_->w->sched->stop();
  for (auto& st : p_->w->streams) st->stop();
  // Every transfer in flight completes (with an error) while the runner and the intake its
  // callbacks reach are still alive; the parts are destroyed only after this.
  if (p_->http) p_->http->shutdown();
  if (p_->out) p_->out->stop();  // cluster: writes what is buffered, releases the lease, stops reading
  if (p_->cluster) p_->cluster->stop();
  if (p_->stream) p_->stream->stop();
  for (auto& s : p_->sinks) s->stop();
  if (p_->srv) p_->srv->stop();
}

static bool sinks_differ(const std::vector<sink_config>& a, const std::vector<sink_config>& b) {
  auto same = [](const sink_config& x, const sink_config& y) {
    return x.name == y.name && x.type == y.type && x.records == y.records && x.buffer == y.buffer && x.brokers == y.brokers &&
           x.topic == y.topic && x.client_settings == y.client_settings && x.redis_url == y.redis_url && x.key == y.key &&
           x.maxlen == y.maxlen && x.format == y.format;
  };
  return a.size() != b.size() || !std::equal(a.begin(), a.end(), b.begin(), same);
}

bool host::reload(config cfg, std::vector<diagnostic>& diags) {
  auto& p = *p_;
  std::lock_guard one(p.reload_mu);
  auto next = std::make_unique<work>();
  if (!build_work(p, *next, cfg, diags, p.w.get()) || !make_streams(p, *next, p.opts, diags, p.w.get())) return false;
  if (!reload_server(cfg, diags)) return false;  // the last step that may fail: nothing is applied before it
  share_limits(p, *next, cfg);
  for (auto& f : next->feeds)  // a feed paused by the control API stays paused
    for (auto& old : p.w->feeds)
      if (old->cfg.id == f->cfg.id) f->paused = old->paused.load();
  if (p.w->sched) p.w->sched->stop();
  for (auto& st : p.w->streams)
    if (std::find(next->streams.begin(), next->streams.end(), st) == next->streams.end()) st->stop();
  {
    std::unique_lock lk(p.work_mu);
    p.retired.push_back(std::exchange(p.w, std::move(next)));
    cfg_.plugins = std::move(cfg.plugins);
    cfg_.feeds = std::move(cfg.feeds);
    cfg_.server = std::move(cfg.server);
    p.generation++;
    p.loaded_at = p.clock->now_ms();
  }
  if (p.started) start_work(*p.w);
  reload_views(std::move(cfg.views));
  watch_demand(p, *p.w, cfg_.views);
  reap(p);
  return true;
}

// A reload's [server] (and view routes): what may change does, for requests and sessions that
// start from now on; a warning names what waits for a restart. False, with the reason, when
// the server cannot take it (an unusable JWT key).
bool host::reload_server(config& cfg, std::vector<diagnostic>& diags) {
  auto& p = *p_;
  if (p.opts.listen) {  // --listen still rules
    cfg.server.address = cfg_.server.address;
    cfg.server.port = cfg_.server.port;
  }
  if (!p.srv) return true;
  auto later = restart_changes(cfg_.server, cfg.server);  // config/server_settings.hpp says which
  keep_restart_settings(cfg_.server, cfg.server);
  try {
    p.srv->reconfigure(with_jwks(server_options_of(cfg)));
  } catch (const std::invalid_argument& e) {
    diags.push_back({diagnostic::level::error, {cfg_.file.string(), 0, 0}, "server.auth", e.what()});
    return false;
  }
  for (auto& name : later)
    diags.push_back({diagnostic::level::warning, {cfg_.file.string(), 0, 0}, "server." + name,
                     "changed; takes effect at the next restart (the server goes on with the old value)"});
  if (sinks_differ(cfg_.sinks, cfg.sinks))
    diags.push_back({diagnostic::level::warning, {cfg_.file.string(), 0, 0}, "sinks",
                     "changed; takes effect at the next restart (the sinks go on as they are)"});
  return true;
}

// Changed [views.*] take effect at once (a new engine, shown the cache first).
void host::reload_views(std::vector<view_config> views) {
  auto& p = *p_;
  auto fields = [](const std::vector<view_config>& vs) {  // what a view computes; its route is the server's
    std::vector<std::string> k;
    for (auto& v : vs) {
      k.push_back(v.name);
      for (auto& f : v.fields) k.back() += "|" + f.out + "=" + f.topic + ":" + f.field;
    }
    return k;
  };
  bool changed = fields(views) != fields(cfg_.views);
  if (changed) {
    auto next = views.empty() ? nullptr : std::make_unique<view_engine>(views);
    p.deliver->replace_views(next.get());
    p.views = std::move(next);  // the engine replaced is no longer reachable: delivery swapped it under its lock
  }
  cfg_.views = std::move(views);
}

// Sources whose config asks for it share their budget and pauses through Redis (cluster mode).
void host::share_limits(parts& p, work& w, const config& cfg) {
  if (!p.limits) return;
  for (auto& s : w.sources)
    for (const auto& pc : cfg.plugins)
      if (pc.name == s->name && pc.shared_budget) s->shared = p.limits;
}

// A replaced work is freed once no run of it is in flight: their callbacks reach its feeds and
// sources (the current scheduler runs the timers of their retries). Until then it is kept; at
// stop every transfer ends, so none outlives the host.
void host::reap(parts& p) {
  std::erase_if(p.retired, [](const std::unique_ptr<work>& w) {
    return std::none_of(w->feeds.begin(), w->feeds.end(), [](auto& f) { return f->running.load(); });
  });
}


control_reply host::control(const control_request& r) {
  auto reply = apply_control(r);
  if (reply.status == 200 && p_->cluster) p_->cluster->share_control(r);  // for whichever node leads
  return reply;
}

control_reply host::apply_control(const control_request& r) {
  auto& p = *p_;
  std::shared_lock lk(p.work_mu);
  using act = control_request::action;
  if (r.what == act::reset_source) {
    for (auto& s : p.w->sources)
      if (s->name == r.target) {
        if (s->breaker) s->breaker->reset();
        s->paused_until = 0;
        if (s->shared) s->shared->clear_pause(s->name);
        p.log->info("control: source {} reset (circuit closed, pause cleared)", s->name);
        return {200, "source " + s->name + ": circuit closed, pause cleared"};
      }
    return {404, "no source '" + r.target + "'"};
  }
  for (auto& f : p.w->feeds) {
    if (f->cfg.id != r.target) continue;
    if (r.what == act::run_feed) {
      if (p.w->sched) p.w->sched->run_now(*f);
      return {200, "feed " + f->cfg.id + ": run requested"};
    }
    bool pause = r.what == act::pause_feed;
    if (f->paused.exchange(pause) != pause) p.log->info("control: feed {} {}", f->cfg.id, pause ? "paused" : "resumed");
    return {200, "feed " + f->cfg.id + (pause ? ": paused" : ": resumed")};
  }
  return {404, "no feed '" + r.target + "'"};
}

// What another node asked for through Redis: paused feeds as a set, runs and resets once each.
void host::apply_shared_control(const cluster_control& c) {
  auto& p = *p_;
  {
    std::shared_lock lk(p.work_mu);
    for (auto& f : p.w->feeds) f->paused = c.paused_feeds.count(f->cfg.id) > 0;
  }
  for (auto& id : c.run_feeds) apply_control({control_request::action::run_feed, id});
  for (auto& name : c.reset_sources) apply_control({control_request::action::reset_source, name});
}

config host::effective_config() const {
  std::shared_lock lk(p_->work_mu);
  config c = cfg_;
  for (auto& pc : c.plugins)
    for (auto& s : p_->w->sources)
      if (s->name == pc.name) {
        const auto& mf = s->plugin->manifest();
        if (!pc.base_url && !s->base_url.empty()) pc.base_url = s->base_url;
        if (!pc.timeout) pc.timeout = s->timeout;
        if (!pc.rate_limit) pc.rate_limit = std::vector{mf.default_rate_limit};
      }
  return c;
}

// The JWKS keys (when [server.auth] jwks_url is set) for the server's token checks.
server_options host::with_jwks(server_options so) const {
  auto& p = *p_;
  if (!p.jwks) return so;
  so.jwt.jwks = p.jwks->keys();
  so.jwt.on_unknown_kid = [f = p.jwks.get()] { f->unknown_kid(); };
  return so;
}

std::string host::status_json() const {
  auto& p = *p_;
  int64_t now = p.clock->now_ms();
  json plugins = json::array(), feeds = json::array(), loaded;
  {
    std::shared_lock lk(p.work_mu);
    for (auto& s : p.w->sources) plugins.push_back(s->status(now));
    for (auto& f : p.w->feeds) feeds.push_back(f->status(now));
    loaded = {{"file", cfg_.file.string()}, {"generation", p.generation}, {"loaded_at", p.loaded_at}};
  }
  json j{{"node", p.node_id},
         {"config", loaded},
         {"role", p.cluster ? (p.cluster->is_leader() ? "leader" : "follower") : "standalone"},
         {"epoch", p.cluster ? json(p.cluster->epoch()) : json(nullptr)},
         {"uptime_ms", p.started ? now - p.started : 0},
         {"plugins", plugins},
         {"feeds", feeds},
         {"topics", p.cache.size()}};
  if (p.cluster) {
    j["cluster"] = p.cluster->status();
    j["cluster"].update(p.out->status());
  }
  j["sinks"] = json::array();
  for (auto& s : p.sinks) j["sinks"].push_back(s->status());
  if (p.jwks) j["jwks"] = p.jwks->status();
  p.secrets->scrub_json(j);  // before serializing: an escaped secret is still found
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

request_plan host::request_plan() const {
  std::shared_lock lk(p_->work_mu);
  return make_request_plan(p_->w->feeds, p_->w->sources);
}

std::string host::metrics_text() const {
  auto& p = *p_;
  p.m.set("tributary_topics", {}, static_cast<double>(p.cache.size()));
  {
    std::shared_lock lk(p.work_mu);
    int64_t now = p.clock->now_ms();
    for (auto& s : p.w->sources) {
      if (!s->budget) continue;
      auto left = s->budget->remaining(now);
      const auto& windows = s->budget->windows();
      for (size_t i = 0; i < left.size(); ++i)
        p.m.set("tributary_budget_remaining", {{"source", s->name}, {"window", format_duration(windows[i].per)}}, left[i]);
    }
  }
  return p.secrets->scrub(p.m.render());
}

}  // namespace tributary
