#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/config.hpp"
#include "config/render.hpp"
#include "util/listen.hpp"
#include "util/redactor.hpp"

#include <nlohmann/json.hpp>

using namespace tributary;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

env_lookup fake_env(std::map<std::string, std::string> vars) {
  return [vars](const std::string& n) -> std::optional<std::string> {
    auto it = vars.find(n);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

config_result parse(const std::string& text, std::map<std::string, std::string> env = {}, redactor* r = nullptr) {
  return parse_config(text, "/etc/tributary/test.toml", fake_env(std::move(env)), r);
}

std::string all(const config_result& r) {
  std::string s;
  for (auto& d : r.diagnostics) s += d.str() + "\n";
  return s;
}

const char* kDesignExample = R"(
[host]
plugin_dirs = ["../build/plugins"]
log_level = "info"

[server]
listen = "127.0.0.1:8081"
ws_path = "/ws"
max_connections = 10000
max_message_bytes = 65536

[cluster]
mode = "standalone"
redis_url = "redis://127.0.0.1:6379"
name = "default"
lease = "3s"
renew_every = "1s"

[stream]
enabled = false
maxlen = 10000

[plugins.binance]
base_url = "https://api.binance.com"
timeout = "5s"
rate_limit = { requests = 6000, per = "1m", burst = 300 }

[plugins.coingecko]
api_key = "${COINGECKO_API_KEY:-}"

[plugins.cmc]
plugin = "cmc"
api_key = "${CMC_API_KEY}"

[feeds.spot]
kind = "price"
subjects = ["BTC-USDT", "ETH-USDT", "SOL-USDT"]
every = "5s"
sources = ["binance", "coingecko", "cmc"]

[feeds.global]
kind = "market"
subjects = ["global"]
every = "60s"
sources = ["coingecko", "cmc"]
)";

}  // namespace

TEST(Config, DesignExampleParsesIntoTypedValues) {
  redactor secrets;
  auto r = parse(kDesignExample, {{"CMC_API_KEY", "cmc-secret-value"}}, &secrets);
  ASSERT_TRUE(r.ok()) << all(r);
  const auto& c = *r.cfg;
  EXPECT_EQ(c.host.plugin_dirs.at(0), std::filesystem::path("/etc/build/plugins"));
  EXPECT_EQ(c.server.port, 8081);
  EXPECT_EQ(c.cluster.lease, millis(3000));
  ASSERT_EQ(c.plugins.size(), 3u);
  ASSERT_EQ(c.plugins[0].rate_limit->size(), 1u);
  EXPECT_EQ(c.plugins[0].rate_limit->at(0).requests, 6000);
  EXPECT_EQ(c.plugins[0].rate_limit->at(0).per, millis(60000));
  EXPECT_EQ(c.plugins[0].rate_limit->at(0).burst, 300);
  EXPECT_EQ(c.plugins[0].timeout, millis(5000));
  EXPECT_EQ(c.plugins[1].settings["api_key"], "");  // ${VAR:-} default
  EXPECT_EQ(c.plugins[2].plugin, "cmc");
  EXPECT_EQ(c.plugins[2].settings["api_key"], "cmc-secret-value");
  EXPECT_TRUE(secrets.is_secret("cmc-secret-value"));
  ASSERT_EQ(c.feeds.size(), 2u);
  EXPECT_EQ(c.feeds[0].every, millis(5000));
  EXPECT_EQ(c.feeds[0].sources, (std::vector<std::string>{"binance", "coingecko", "cmc"}));
}

TEST(Config, UnsetRequiredSecretDisablesInstanceWithOneWarning) {
  auto r = parse(kDesignExample);
  ASSERT_TRUE(r.ok()) << all(r);
  EXPECT_FALSE(r.cfg->plugin("cmc")->enabled);
  EXPECT_THAT(r.cfg->plugin("cmc")->disabled_reason, HasSubstr("CMC_API_KEY"));
  EXPECT_EQ(r.cfg->feeds[0].sources, (std::vector<std::string>{"binance", "coingecko"}));
  int mentions = 0;
  for (auto& d : r.diagnostics)
    if (d.severity == diagnostic::level::warning && d.message.find("CMC_API_KEY is not set") != std::string::npos) ++mentions;
  EXPECT_EQ(mentions, 1) << all(r);
}

TEST(Config, ErrorsNameFileLineColumnAndKeyPathAndAreAllReported) {
  auto r = parse(R"([server]
listen = "nowhere"

[plugins.binance]
timeout = "5 seconds"

[feeds.spot]
kind = "price"
subjects = ["BTC-USDT"]
evry = "5s"
sources = ["binanse"]
)");
  ASSERT_FALSE(r.ok());
  std::string s = all(r);
  EXPECT_THAT(s, HasSubstr("/etc/tributary/test.toml:2:10: error: server.listen: 'nowhere' is not HOST:PORT"));
  EXPECT_THAT(s, HasSubstr("/etc/tributary/test.toml:5:11: error: plugins.binance.timeout: '5 seconds' is not a duration"));
  EXPECT_THAT(s, HasSubstr("/etc/tributary/test.toml:10:1: error: feeds.spot.evry: unknown key 'evry' (did you mean 'every'?)"));
  EXPECT_THAT(s, HasSubstr("feeds.spot.sources: source 'binanse' is not a configured instance (no [plugins.binanse]) (did you mean 'binance'?)"));
  EXPECT_THAT(s, HasSubstr("feeds.spot: missing required key `every`"));
  EXPECT_EQ(r.error_count(), 5u) << s;
}

TEST(Config, TomlSyntaxErrorHasPosition) {
  auto r = parse("[feeds.spot]\nkind = \"price\nsubjects = []\n");
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_EQ(r.diagnostics[0].where.line, 2);
  EXPECT_GT(r.diagnostics[0].where.col, 0);
}

TEST(Config, BadKindsSubjectsAndUnknownTopLevelTables) {
  auto r = parse(R"([plugins.binance]
[feeds.x]
kind = "prices"
subjects = ["BTC-USDT"]
every = "1s"
sources = ["binance"]
[feeds.y]
kind = "price"
subjects = ["btcusdt", "BTC-USDT", "BTC-USDT"]
every = "1s"
sources = ["binance"]
[serverr]
)");
  std::string s = all(r);
  EXPECT_THAT(s, HasSubstr("3:8: error: feeds.x.kind: unknown kind 'prices' (did you mean 'price'?)"));
  EXPECT_THAT(s, HasSubstr("feeds.y.subjects: 'btcusdt': a price subject is BASE-QUOTE"));
  EXPECT_THAT(s, HasSubstr("feeds.y.subjects: 'BTC-USDT' is listed twice"));
  EXPECT_THAT(s, HasSubstr("serverr: unknown key 'serverr' (did you mean 'server'?)"));
}

TEST(Config, EnvSubstitutionOutsidePluginsMustBeSet) {
  auto r = parse("[cluster]\nredis_url = \"${REDIS_URL}\"\n");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(all(r), HasSubstr("2:13: error: cluster.redis_url: environment variable REDIS_URL is not set"));
  auto ok = parse("[cluster]\nredis_url = \"${REDIS_URL:-redis://10.0.0.1:6380}\"\n");
  ASSERT_TRUE(ok.ok()) << all(ok);
  EXPECT_EQ(ok.cfg->cluster.redis_url, "redis://10.0.0.1:6380");
}

TEST(Config, RedisPasswordIsASecret) {
  redactor secrets;
  auto r = parse("[cluster]\nredis_url = \"redis://user:hunter2pass@host:6379\"\n", {}, &secrets);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(secrets.scrub("url redis://user:hunter2pass@host"), "url redis://user:***@host");
}

TEST(Config, DurationsNeedUnits) {
  EXPECT_EQ(parse_duration("250ms"), millis(250));
  EXPECT_EQ(parse_duration("1.5s"), millis(1500));
  EXPECT_EQ(parse_duration("2m"), millis(120000));
  EXPECT_EQ(parse_duration("1h"), millis(3600000));
  EXPECT_FALSE(parse_duration("5"));
  EXPECT_FALSE(parse_duration("-1s"));
  EXPECT_FALSE(parse_duration("5 s"));
  EXPECT_FALSE(parse_duration("s"));
  EXPECT_EQ(format_duration(millis(60000)), "1m");
  EXPECT_EQ(format_duration(millis(1500)), "1500ms");
}

TEST(Config, RedactorMasksLongestSecretFirst) {
  redactor r;
  r.add("abc123");
  r.add("abc123456");
  r.add("x");  // too short to mask safely
  EXPECT_EQ(r.scrub("key=abc123456 other=abc123 x"), "key=*** other=*** x");
}

TEST(Config, DurationsAreBoundedAndTimeoutsMustBePositive) {
  EXPECT_EQ(parse_duration("30d"), millis(30LL * 86400000));
  EXPECT_FALSE(parse_duration("1e300h"));  // would overflow: out of range
  EXPECT_FALSE(parse_duration("367d"));
  EXPECT_EQ(format_duration(millis(2 * 86400000)), "2d");
  auto r = parse(R"(
[plugins.binance]
timeout = "0ms"
backoff = "1e300h"
[feeds.spot]
kind = "price"
subjects = ["BTC-USDT"]
every = "0s"
jitter = "0s"
sources = ["binance"]
)");
  EXPECT_FALSE(r.ok());
  auto text = all(r);
  EXPECT_THAT(text, HasSubstr("plugins.binance.timeout: must be more than 0"));
  EXPECT_THAT(text, HasSubstr("plugins.binance.backoff: '1e300h' is not a duration from 0 to 366d"));
  EXPECT_THAT(text, HasSubstr("feeds.spot.every: must be more than 0"));
  EXPECT_THAT(text, Not(HasSubstr("feeds.spot.jitter")));  // no jitter is a choice, not an error
}

TEST(Config, ListenTakesHostPortOrBracketedIpv6) {
  EXPECT_EQ(std::get<listen_address>(parse_listen("[::1]:8081")).host, "::1");
  EXPECT_EQ(std::get<listen_address>(parse_listen("0.0.0.0:0")).port, 0);
  for (auto bad : {"127.0.0.1:abc", "127.0.0.1:99999", "127.0.0.1:", ":80", "::1:80", "[::1:80", "8081", "127.0.0.1:-1"})
    EXPECT_TRUE(std::holds_alternative<std::string>(parse_listen(bad))) << bad;
  EXPECT_THAT(std::get<std::string>(parse_listen("127.0.0.1:99999")), HasSubstr("from 0 to 65535"));
  auto r = parse("[server]\nlisten = \"[::1]:9000\"\n");
  ASSERT_TRUE(r.ok()) << all(r);
  EXPECT_EQ(r.cfg->server.address, "::1");
  EXPECT_EQ(r.cfg->server.port, 9000);
}

TEST(Config, SecretsAreMaskedEncodedAndEscapedAndMayNotBeTooShort) {
  redactor secrets;
  ASSERT_TRUE(secrets.add(R"(k3y/with "quote" \ & space)"));
  EXPECT_EQ(secrets.scrub("q=k3y%2Fwith%20%22quote%22%20%5C%20%26%20space"), "q=***");  // URL-encoded
  EXPECT_EQ(secrets.scrub("q=k3y%2fwith%20%22quote%22%20%5c%20%26%20space"), "q=***");  // lower-case hex
  EXPECT_EQ(secrets.scrub("q=k3y%2Fwith+%22quote%22+%5C+%26+space"), "q=***");          // form-encoded
  EXPECT_EQ(secrets.scrub(R"({"e":"k3y/with \"quote\" \\ & space"})"), R"({"e":"***"})");  // JSON-escaped
  nlohmann::json j{{"last_error", R"(bad key k3y/with "quote" \ & space)"}};
  secrets.scrub_json(j);
  EXPECT_EQ(j.dump(), R"({"last_error":"bad key ***"})");
  auto r = parse("[plugins.cmc]\napi_key = \"${K}\"\n", {{"K", "ab"}}, &secrets);
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(all(r), HasSubstr("plugins.cmc.api_key: a secret of 2 character(s) cannot be masked safely"));
  EXPECT_TRUE(parse("[plugins.cmc]\napi_key = \"${K:-}\"\n", {}, &secrets).ok());  // empty: not set
}

TEST(Config, RateLimitTakesSeveralWindows) {
  auto r = parse(R"(
[plugins.cmc]
rate_limit = [ { requests = 30, per = "1m" }, { requests = 10000, per = "30d" } ]
[plugins.binance]
rate_limit = [ { requests = 30 } ]
)");
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(all(r), HasSubstr("plugins.binance.rate_limit[0]: needs both `requests` and `per`"));
  auto ok = parse(R"(
[plugins.cmc]
rate_limit = [ { requests = 30, per = "1m" }, { requests = 10000, per = "30d" } ]
)");
  ASSERT_TRUE(ok.ok()) << all(ok);
  ASSERT_EQ(ok.cfg->plugins[0].rate_limit->size(), 2u);
  EXPECT_EQ(ok.cfg->plugins[0].rate_limit->at(1).per, millis(30LL * 86400000));
}

TEST(Config, ServerLimits) {
  auto r = parse("[server.limits]\nconnections_per_ip = 0\nmessages_per_second = 2.5\nmessages_burst = 10\n");
  ASSERT_TRUE(r.ok()) << all(r);
  EXPECT_EQ(r.cfg->server.limits.connections_per_ip, 0u);
  EXPECT_EQ(r.cfg->server.limits.messages_per_second, 2.5);
  auto off = parse("[server.limits]\nmessages_per_second = 0\n");  // 0 = no limit, as for connections_per_ip
  ASSERT_TRUE(off.ok()) << all(off);
  EXPECT_EQ(off.cfg->server.limits.messages_per_second, 0);
  auto bad = parse("[server.limits]\nmessages_per_second = -1\nmessages_burts = 3\n");
  EXPECT_FALSE(bad.ok());
  EXPECT_THAT(all(bad), HasSubstr("server.limits.messages_per_second: must be 0 (no limit) or more"));
  EXPECT_THAT(all(bad), HasSubstr("messages_burst"));  // did you mean
}

TEST(Config, DialectsAreCheckedTemplateByTemplate) {
  auto ok = parse(R"([dialects.t]
path = "/ws/t"
on_open = '{"hello":{now},"in":{auth_timeout}}'
[dialects.t.receive.subscribe]
action = "subscribe"
channel = "data.ch"
reply = '{"ok":{channel},"brace":"{not a placeholder}"}'
[dialects.t.channels.mine]
topics = "event.user.{sub}.x"
send = '{"d":{data.price},"all":{record}}'
[dialects.t.channels."*"]
topics = "task_status.{channel}"
send = '{"d":{data}}'
)");
  ASSERT_TRUE(ok.ok()) << all(ok);
  auto& d = ok.cfg->dialects.at(0);
  EXPECT_EQ(d.path, "/ws/t");
  EXPECT_EQ(d.channels.back().name, "*");  // literal names first
  EXPECT_TRUE(d.channels.front().send.uses(placeholder::data_field));
  std::string filled;
  d.receive.at("subscribe").reply.render(filled, [](placeholder p, const std::string&, std::string& out) {
    out += p == placeholder::channel ? "\"c\"" : "?";
  });
  EXPECT_EQ(filled, R"({"ok":"c","brace":"{not a placeholder}"})");
  auto bad = parse(R"([dialects.t]
path = "/ws"
[dialects.t.receive.go]
action = "launch"
[dialects.t.receive.subscribe]
action = "subscribe"
reply = '{"x":{nope}}'
[dialects.t.channels.a]
topics = "price.{channel}"
send = '{"x":{data}'
)");
  EXPECT_FALSE(bad.ok());
  auto text = all(bad);
  EXPECT_THAT(text, HasSubstr("dialects.t.path: '/ws' is already served"));
  EXPECT_THAT(text, HasSubstr("dialects.t.receive.go.action: 'launch' is not a dialect action"));
  EXPECT_THAT(text, HasSubstr("dialects.t.receive.subscribe: missing required key `channel`"));
  EXPECT_THAT(text, HasSubstr("unknown placeholder {nope}"));
  EXPECT_THAT(text, HasSubstr("{channel} is for the \"*\" channel"));
  EXPECT_THAT(text, HasSubstr("dialects.t.channels.a.send: is not JSON once its placeholders are filled in"));
}

TEST(Config, ViewRefreshNeedsARouteAndRefreshAuthAnAdminToken) {
  auto ok = parse("[server.auth]\nadmin_token = \"admin-token-0123456789abcdefghij\"\n[views.v]\nroute = \"/v\"\nrefresh = true\n"
                  "refresh_auth = true\nfields = { a = \"price.X-Y:price\" }\n");
  ASSERT_TRUE(ok.ok()) << all(ok);
  EXPECT_TRUE(ok.cfg->views.at(0).refresh);
  EXPECT_TRUE(ok.cfg->views.at(0).refresh_auth);
  auto bad = parse("[views.v]\nrefresh = \"yes\"\nrefresh_auth = true\nfields = { a = \"price.X-Y:price\" }\n");
  EXPECT_THAT(all(bad), HasSubstr("views.v.refresh: must be true or false"));
  EXPECT_THAT(all(bad), HasSubstr("views.v: refresh is served at <route>/refresh: set `route` too"));
  EXPECT_THAT(all(bad), HasSubstr("views.v.refresh_auth: needs [server.auth] admin_token"));
}

TEST(Config, ClientProtocolsAreNamedOnceEach) {
  auto d = parse("");
  ASSERT_TRUE(d.ok()) << all(d);
  EXPECT_EQ(d.cfg->server.protocols, std::vector<client_wire>{client_wire::tributary});
  auto both = parse("[server]\nprotocols = [\"centrifugo\", \"tributary\"]\n");
  ASSERT_TRUE(both.ok()) << all(both);
  EXPECT_EQ(both.cfg->server.protocols, (std::vector<client_wire>{client_wire::centrifugo, client_wire::tributary}));
  auto bad = parse("[server]\nprotocols = [\"centrifugo\", \"mqtt\", \"centrifugo\"]\n");
  EXPECT_FALSE(bad.ok());
  EXPECT_THAT(all(bad), HasSubstr("test.toml:2:"));
  EXPECT_THAT(all(bad), HasSubstr("server.protocols[1]: 'mqtt' is not a client protocol (tributary, centrifugo)"));
  EXPECT_THAT(all(bad), HasSubstr("server.protocols[2]: names 'centrifugo' twice"));
  EXPECT_THAT(all(parse("[server]\nprotocols = []\n")), HasSubstr("server.protocols: must be a non-empty array"));
  auto unknown_first = parse("[server]\nprotocols = [\"mqtt\", \"tributary\"]\n");
  EXPECT_THAT(all(unknown_first), HasSubstr("'mqtt' is not a client protocol"));
  EXPECT_THAT(all(unknown_first), Not(HasSubstr("twice")));
}

namespace {

TEST(Config, AuthAndViewsAreReadAndChecked) {
  redactor secrets;
  auto r = parse(R"(
[server.auth]
mode = "jwt"
jwt_secret = "${SECRET}"
issuer = "me"
public = ["price.*", "view.*"]
auth_timeout = "5s"

[views.dashboard]
route = "/api/crypto/dashboard-summary"
fields = { btc = "price.BTC-USD:price", fg = "sentiment.fear_greed:value" }
)", {{"SECRET", "a-long-enough-jwt-secret-value"}}, &secrets);
  ASSERT_TRUE(r.ok()) << all(r);
  auto& a = r.cfg->server.auth;
  EXPECT_EQ(a.mode, auth_mode::jwt);
  EXPECT_EQ(a.jwt_secret, "a-long-enough-jwt-secret-value");
  EXPECT_EQ(a.public_patterns, (std::vector<std::string>{"price.*", "view.*"}));
  EXPECT_EQ(a.auth_timeout.count(), 5000);
  EXPECT_EQ(secrets.scrub("x a-long-enough-jwt-secret-value"), "x ***");
  ASSERT_EQ(r.cfg->views.size(), 1u);
  auto& v = r.cfg->views[0];
  EXPECT_EQ(v.route, "/api/crypto/dashboard-summary");
  ASSERT_EQ(v.fields.size(), 2u);
  EXPECT_EQ(v.fields[0].topic, "price.BTC-USD");
  EXPECT_EQ(v.fields[0].field, "price");
}

TEST(Config, BadAuthAndViewsSayWhatAndWhere) {
  auto r = parse(R"(
[server.auth]
mode = "jwt"
public = ["pri*ce"]
jwt_public_key = "/nonexistent/key.pem"

[views.a]
route = "/health"
fields = { x = "price.BTC-USD", y = "price.*:price", z = "view.b:x", stale = "price.BTC-USD:price", u = "event.user.42.orders:status" }

[views."b.c"]
fields = { x = "price.BTC-USD:price" }
)");
  EXPECT_FALSE(r.ok());
  auto text = all(r);
  EXPECT_THAT(text, HasSubstr("test.toml:4:10: error: server.auth.public[0]"));
  EXPECT_THAT(text, HasSubstr("server.auth.jwt_public_key: '/nonexistent/key.pem' is not a readable PEM"));
  EXPECT_THAT(text, HasSubstr("server.auth: mode = \"jwt\" needs jwt_secret"));
  EXPECT_THAT(text, HasSubstr("views.a.fields.x: 'price.BTC-USD' is not a field reference"));
  EXPECT_THAT(text, HasSubstr("views.a.fields.y: 'price.*' is not a topic"));
  EXPECT_THAT(text, HasSubstr("views.a.fields.z: a view cannot read another view"));
  EXPECT_THAT(text, HasSubstr("views.a.fields.stale: 'stale' is set by the host"));
  EXPECT_THAT(text, HasSubstr("views.a.fields.u: a view cannot read a personal topic"));
  EXPECT_THAT(text, HasSubstr("views.a.route: '/health' is already served"));
  EXPECT_THAT(text, HasSubstr("views.b.c: a view name is letters"));
  EXPECT_THAT(all(parse("[server.auth]\nmode = \"oauth\"\n")), HasSubstr("'oauth' is not a mode (none, jwt)"));
  auto weak = parse("[server.auth]\nmode = \"jwt\"\njwt_secret = \"short-secret\"\n");
  EXPECT_TRUE(weak.ok());
  EXPECT_THAT(all(weak), HasSubstr("warning: server.auth.jwt_secret: shorter than 32 bytes"));
}

}  // namespace

TEST(Config, SchedulesAndAlignment) {
  const std::string head = "[plugins.binance]\n";
  auto ok = parse(head + R"([feeds.a]
kind = "price"
subjects = ["BTC-USDT"]
sources = ["binance"]
schedule = "0 */5 * * * *"
[feeds.b]
kind = "price"
subjects = ["BTC-USDT"]
sources = ["binance"]
every = "1m"
align = true
)");
  ASSERT_TRUE(ok.ok()) << all(ok);
  EXPECT_EQ(ok.cfg->feeds[0].schedule->text(), "0 */5 * * * *");
  EXPECT_EQ(ok.cfg->feeds[0].jitter, millis(0));  // on the minute means on the minute
  EXPECT_TRUE(ok.cfg->feeds[1].align);
  EXPECT_EQ(ok.cfg->feeds[1].jitter, millis(0));
  auto bad = parse(head + R"([feeds.a]
kind = "price"
subjects = ["BTC-USDT"]
sources = ["binance"]
schedule = "0 */5 * * *"
[feeds.b]
kind = "price"
subjects = ["BTC-USDT"]
sources = ["binance"]
every = "1m"
schedule = "0 * * * * *"
[feeds.c]
kind = "price"
subjects = ["BTC-USDT"]
sources = ["binance"]
schedule = "0 0 0 * * *"
align = true
[feeds.d]
kind = "price"
subjects = ["BTC-USDT"]
sources = ["binance"]
schedule = "0 0 0 31 2 *"
)");
  auto text = all(bad);
  EXPECT_THAT(text, HasSubstr(":6:12: error: feeds.a.schedule: '0 */5 * * *' has 5 fields"));
  EXPECT_THAT(text, HasSubstr("feeds.b.schedule: give `every` or `schedule`, not both"));
  EXPECT_THAT(text, HasSubstr("feeds.c.align: aligns runs of `every`; this feed has none"));
  EXPECT_THAT(text, HasSubstr("feeds.d.schedule: '0 0 0 31 2 *' never comes"));
}

TEST(Config, SinksAreTypedAndTheirMistakesNamed) {
  redactor secrets;
  auto ok = parse(R"([cluster]
redis_url = "redis://10.0.0.1:6380"
[sinks.back]
type = "kafka"
brokers = "k1:9092,k2:9092"
topic = "tributary.{kind}.{source}"
records = ["price.*", "event.user.*"]
sasl_password = "${KAFKA_PASSWORD}"
[sinks.market]
type = "redis_stream"
key = "market_data_stream"
format = "flat"
maxlen = 1000
)", {{"KAFKA_PASSWORD", "a-long-kafka-password"}}, &secrets);
  ASSERT_TRUE(ok.ok()) << all(ok);
  ASSERT_EQ(ok.cfg->sinks.size(), 2u);
  auto& back = ok.cfg->sinks[0];
  EXPECT_EQ(back.type, sink_type::kafka);
  EXPECT_EQ(back.records, (std::vector<std::string>{"price.*", "event.user.*"}));
  EXPECT_EQ(back.client_settings, (std::vector<std::pair<std::string, std::string>>{{"sasl.password", "a-long-kafka-password"}}));
  EXPECT_EQ(secrets.scrub("x a-long-kafka-password"), "x ***");
  auto& market = ok.cfg->sinks[1];
  EXPECT_EQ(market.format, sink_format::flat);
  EXPECT_EQ(market.redis_url, "redis://10.0.0.1:6380");  // [cluster] redis_url unless given
  EXPECT_EQ(market.records, std::vector<std::string>{"*"});

  auto bad = parse(R"([sinks.a]
type = "kafkaa"
[sinks.b]
type = "kafka"
topic = "t.{nope}"
[sinks.c]
type = "redis_stream"
format = "flat2"
brokers = "x"
records = ["price.*.x"]
[sinks.d]
type = "kafka"
brokers = "x"
key = "k"
)");
  auto s = all(bad);
  EXPECT_THAT(s, HasSubstr("sinks.a.type: 'kafkaa' is not a sink type (kafka, redis_stream)"));
  EXPECT_THAT(s, HasSubstr("sinks.b: missing required key `brokers`"));
  EXPECT_THAT(s, HasSubstr("sinks.c.format: 'flat2' is not a format (record, flat)"));
  EXPECT_THAT(s, HasSubstr("sinks.c.brokers: is a key of kafka sinks"));
  EXPECT_THAT(s, HasSubstr("sinks.c.records[0]"));
  EXPECT_THAT(s, HasSubstr("sinks.d.key: is a key of redis_stream sinks"));
  auto topic = parse("[sinks.b]\ntype = \"kafka\"\nbrokers = \"x\"\ntopic = \"t.{nope}\"\n");
  EXPECT_THAT(all(topic), HasSubstr("sinks.b.topic: '{nope}' is not one of {kind} {subject} {topic} {source} {feed}"));
}

// [[server.history]]: topics, size, ttl per table, the defaults for what a table leaves out;
// mistakes are named with the table's index; check --print gives the tables back.
TEST(Config, HistoryRulesByTopicPattern) {
  auto r = parse(R"([server]
history_age = "5m"
[[server.history]]
topics = ["event.user.*"]
size = 5000
ttl = "24h"
[[server.history]]
topics = ["price.*", "view.*"]
)");
  ASSERT_TRUE(r.ok()) << all(r);
  const auto& rules = r.cfg->server.history_rules;
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0].topics, std::vector<std::string>{"event.user.*"});
  EXPECT_EQ(rules[0].size, 5000u);
  EXPECT_EQ(rules[0].ttl, millis(24 * 3600 * 1000));
  EXPECT_EQ(rules[1].size, 256u);               // the default size
  EXPECT_EQ(rules[1].ttl, millis(5 * 60 * 1000));  // the [server] history_age
  auto printed = render_toml(*r.cfg);
  auto again = parse(printed);
  ASSERT_TRUE(again.ok()) << all(again) << printed;
  EXPECT_EQ(again.cfg->server.history_rules, rules);
  auto bad = parse(R"([[server.history]]
size = 10
[[server.history]]
topics = ["bad pattern"]
ttl = "soon"
nope = 1
[[server.history]]
topics = ["a.*"]
size = -1
)");
  std::string s = all(bad);
  EXPECT_THAT(s, HasSubstr("server.history[0]: needs topics"));
  EXPECT_THAT(s, HasSubstr("server.history[1].topics"));
  EXPECT_THAT(s, HasSubstr("server.history[1].ttl"));
  EXPECT_THAT(s, HasSubstr("server.history[1].nope: unknown key"));
  EXPECT_THAT(s, HasSubstr("server.history[2].size"));
  EXPECT_THAT(all(parse("[server]\nhistory = [1, 2]\n")), HasSubstr("server.history: is a number"));
  EXPECT_TRUE(parse("[server]\nhistory = 1000\n").ok());
}

TEST(Config, IsolationAndExecPluginsAreReadAndChecked) {
  auto ok = parse(R"(
[plugins.flaky]
plugin = "binance"
isolation = "process"
call_timeout = "500ms"
cpu_limit = "250ms"
memory_limit = "256MiB"
[plugins.kraken]
plugin = "exec"
command = ["python3", "kraken.py", "--fast"]
memory_limit = 134217728
)");
  ASSERT_TRUE(ok.ok()) << all(ok);
  auto& flaky = ok.cfg->plugins[0];
  EXPECT_EQ(flaky.isolation, plugin_isolation::process);
  EXPECT_EQ(flaky.call_timeout, millis(500));
  EXPECT_EQ(flaky.cpu_limit, millis(250));
  EXPECT_EQ(flaky.memory_limit, 256ull << 20);
  EXPECT_TRUE(flaky.settings.empty());  // host keys, not the plugin's
  auto& kraken = ok.cfg->plugins[1];
  EXPECT_TRUE(kraken.exec());
  EXPECT_EQ(kraken.isolation, plugin_isolation::process);  // an exec plugin always is
  EXPECT_EQ(kraken.command, (std::vector<std::string>{"python3", "kraken.py", "--fast"}));
  EXPECT_EQ(kraken.workdir, std::filesystem::path("/etc/tributary"));
  EXPECT_EQ(kraken.memory_limit, 128ull << 20);
  auto text = render_toml(*ok.cfg);  // --print shows them, and they read back the same
  EXPECT_THAT(text, HasSubstr("memory_limit = '256MiB'"));
  auto again = parse(text);
  ASSERT_TRUE(again.ok()) << all(again) << text;
  EXPECT_TRUE(same_instance(again.cfg->plugins[0], flaky));
  EXPECT_TRUE(same_instance(again.cfg->plugins[1], kraken));
  auto changed = kraken;
  changed.command.back() = "--slow";
  EXPECT_FALSE(same_instance(changed, kraken));  // a reload restarts the process

  auto bad = parse(R"(
[plugins.a]
isolation = "container"
call_timeout = "0s"
memory_limit = "lots"
[plugins.b]
plugin = "exec"
[plugins.c]
command = ["x"]
[plugins.d]
plugin = "exec"
command = []
memory_limit = "1MiB"
[plugins.e]
plugin = "exec"
command = ["x"]
isolation = "none"
)");
  EXPECT_FALSE(bad.ok());
  auto s = all(bad);
  EXPECT_THAT(s, HasSubstr("plugins.a.isolation: 'container' is not a plugin isolation (none, process)"));
  EXPECT_THAT(s, HasSubstr("plugins.a.call_timeout: must be more than 0"));
  EXPECT_THAT(s, HasSubstr("plugins.a.memory_limit: must be a size"));
  EXPECT_THAT(s, HasSubstr("plugins.b.command: an exec plugin needs command"));
  EXPECT_THAT(s, HasSubstr("plugins.c.command: command is for plugin = \"exec\" only"));
  EXPECT_THAT(s, HasSubstr("plugins.d.command: must name a program"));
  EXPECT_THAT(s, HasSubstr("plugins.d.memory_limit: must be at least 16MiB"));
  EXPECT_THAT(s, HasSubstr("plugins.e.isolation: an exec plugin always runs in its own process"));
}

TEST(Config, AValueThatIsOneVariableTakesTheKeysType) {
  auto ok = parse(R"(
[server]
max_connections = "${WS_MAX_CONNECTIONS:-1000}"
heartbeat = "${HEARTBEAT:-30s}"
[server.limits]
messages_per_second = "${RATE}"
[stream]
enabled = "${STREAM_ON}"
[plugins.binance]
retries = "${RETRIES:-3}"
shared_budget = "${SHARED:-false}"
)", {{"WS_MAX_CONNECTIONS", "2500"}, {"RATE", "7.5"}, {"STREAM_ON", "true"}});
  ASSERT_TRUE(ok.ok()) << all(ok);
  EXPECT_EQ(ok.cfg->server.max_connections, 2500u);
  EXPECT_EQ(ok.cfg->server.limits.messages_per_second, 7.5);
  EXPECT_TRUE(ok.cfg->stream.enabled);
  EXPECT_EQ(ok.cfg->plugins[0].retries, 3);
  EXPECT_FALSE(ok.cfg->plugins[0].shared_budget);

  auto bad = parse(R"(
[server]
max_connections = "${WS_MAX_CONNECTIONS}"
[stream]
enabled = "${STREAM_ON}"
maxlen = "${MAXLEN}"
[plugins.binance]
retries = "${RETRIES}"
)", {{"WS_MAX_CONNECTIONS", "lots"}, {"STREAM_ON", "yes"}, {"RETRIES", "99"}});
  EXPECT_FALSE(bad.ok());
  auto s = all(bad);
  EXPECT_THAT(s, HasSubstr("server.max_connections: must be an integer: ${WS_MAX_CONNECTIONS} gives 'lots'"));
  EXPECT_THAT(s, HasSubstr("stream.enabled: must be true or false: ${STREAM_ON} gives 'yes'"));
  EXPECT_THAT(s, HasSubstr("stream.maxlen: environment variable MAXLEN is not set"));
  EXPECT_THAT(s, HasSubstr("plugins.binance.retries: must be between 0 and 10"));
  EXPECT_THAT(s, Not(HasSubstr("must be an integer\n")));  // not twice for the unset one
}

TEST(Config, ADurationWithoutAUnitSuggestsOne) {
  auto r = parse("[feeds.spot]\nkind = \"price\"\nsubjects = [\"BTC-USDT\"]\nevery = 300\nsources = []\n[server]\nheartbeat = 1.5\n");
  auto s = all(r);
  EXPECT_THAT(s, HasSubstr("feeds.spot.every: a duration needs a unit, as a string: \"300s\" (or \"300ms\", \"300m\")"));
  EXPECT_THAT(s, HasSubstr("server.heartbeat: a duration needs a unit, as a string: \"1.5s\""));
}

TEST(Config, AdaptStretchesAPolledFeedUpToMaxEvery) {
  auto ok = parse("[plugins.binance]\n[feeds.spot]\nkind = \"price\"\nsubjects = [\"BTC-USDT\"]\nevery = \"1m\"\nsources = [\"binance\"]\nadapt = true\nmax_every = \"10m\"\n");
  ASSERT_TRUE(ok.cfg || ok.partial) << all(ok);
  auto& f = (ok.cfg ? ok.cfg : ok.partial)->feeds.at(0);
  EXPECT_TRUE(f.adapt);
  EXPECT_EQ(f.max_every, millis(600000));
  EXPECT_THAT(render_toml(*(ok.cfg ? ok.cfg : ok.partial)), HasSubstr("max_every = '10m'"));
  auto bad = parse(
      "[feeds.a]\nkind = \"price\"\nsubjects = [\"BTC-USDT\"]\nevery = \"1m\"\nsources = []\nmax_every = \"10m\"\n"
      "[feeds.b]\nkind = \"price\"\nsubjects = [\"BTC-USDT\"]\nevery = \"10m\"\nsources = []\nadapt = true\nmax_every = \"1m\"\n"
      "[feeds.c]\nkind = \"price\"\nsubjects = [\"BTC-USDT\"]\nschedule = \"0 * * * * *\"\nsources = []\nadapt = true\n");
  auto s = all(bad);
  EXPECT_THAT(s, HasSubstr("feeds.a.max_every: is how far adapt = true may stretch `every`; this feed does not adapt"));
  EXPECT_THAT(s, HasSubstr("feeds.b.max_every: must be at least `every` (10m)"));
  EXPECT_THAT(s, HasSubstr("feeds.c.adapt: stretches a polled feed's `every`; this feed has none"));
}

TEST(Config, DemandPollsOnlySubscribedSubjectsWithALinger) {
  auto ok = parse("[plugins.binance]\n[feeds.spot]\nkind = \"price\"\nsubjects = [\"BTC-USDT\"]\nevery = \"1m\"\nsources = [\"binance\"]\n"
                  "demand = \"subscribed\"\ndemand_linger = \"30s\"\n");
  ASSERT_TRUE(ok.cfg || ok.partial) << all(ok);
  auto& c = *(ok.cfg ? ok.cfg : ok.partial);
  EXPECT_EQ(c.feeds.at(0).demand, feed_config::demand_mode::subscribed);
  EXPECT_EQ(c.feeds.at(0).demand_linger, millis(30000));
  EXPECT_THAT(render_toml(c), HasSubstr("demand = 'subscribed'"));
  auto dflt = parse("[plugins.binance]\n[feeds.spot]\nkind = \"price\"\nsubjects = [\"BTC-USDT\"]\nevery = \"1m\"\nsources = [\"binance\"]\n");
  EXPECT_EQ((dflt.cfg ? dflt.cfg : dflt.partial)->feeds.at(0).demand, feed_config::demand_mode::always);
  EXPECT_EQ((dflt.cfg ? dflt.cfg : dflt.partial)->feeds.at(0).demand_linger, millis(300000));
  auto bad = parse(
      "[feeds.a]\nkind = \"price\"\nsubjects = [\"BTC-USDT\"]\nevery = \"1m\"\nsources = []\ndemand = \"subscriber\"\n"
      "[feeds.b]\nkind = \"price\"\nsubjects = [\"BTC-USDT\"]\nevery = \"1m\"\nsources = []\ndemand_linger = \"1m\"\n"
      "[feeds.c]\nkind = \"price\"\nsubjects = [\"BTC-USDT\"]\nevery = \"1m\"\nsources = []\ndemand = \"subscribed\"\ndemand_linger = 5\n");
  auto s = all(bad);
  EXPECT_THAT(s, HasSubstr("feeds.a.demand: 'subscriber' is not a demand (always, subscribed)"));
  EXPECT_THAT(s, HasSubstr("feeds.b.demand_linger: is how long demand = \"subscribed\" keeps polling a subject nobody wants; this feed polls always"));
  EXPECT_THAT(s, HasSubstr("feeds.c.demand_linger: a duration needs a unit"));
}
