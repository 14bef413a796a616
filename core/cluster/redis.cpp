#include "cluster/redis.hpp"

#include <boost/url/parse.hpp>

#include <poll.h>

#include <cerrno>

#include <hiredis/hiredis.h>

#include <charconv>

namespace tributary {

std::variant<redis_endpoint, std::string> parse_redis_url_or_why(const std::string& url) {
  auto u = boost::urls::parse_uri(url);
  if (!u) return std::string("not a URL (redis://[user:password@]host[:port][/db])");
  if (u->scheme() == "rediss")
    return std::string("rediss:// (TLS) is not supported: this build's hiredis (Debian 12: 0.14) has no TLS; "
                       "reach Redis through a TLS tunnel (stunnel, spiped) with redis://");
  if (u->scheme() != "redis") return "the scheme is '" + std::string(u->scheme()) + "', not redis://";
  redis_endpoint ep;
  ep.host = std::string(u->host_address());  // an IPv6 address without its brackets
  if (ep.host.empty()) return std::string("no host (redis://host:port, redis://[::1]:6379)");
  if (u->has_port()) {
    if (u->port().empty() || u->port_number() == 0) return "port '" + std::string(u->port()) + "' is not 1-65535";
    ep.port = u->port_number();
  }
  if (u->has_userinfo()) {
    if (u->has_password()) {
      ep.user = std::string(u->user());
      ep.password = std::string(u->password());
    } else {
      ep.password = std::string(u->user());  // redis://secret@host: a password alone
    }
  }
  std::string db = std::string(u->path());
  if (!db.empty() && db != "/") {
    auto digits = std::string_view(db).substr(1);
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), ep.db);
    if (ec != std::errc() || p != digits.data() + digits.size() || ep.db < 0) return "database '" + std::string(digits) + "' is not a number";
  }
  return ep;
}

std::optional<redis_endpoint> parse_redis_url(const std::string& url) {
  auto r = parse_redis_url_or_why(url);
  if (auto* ep = std::get_if<redis_endpoint>(&r)) return *ep;
  return std::nullopt;
}

redis_client::redis_client(redis_endpoint ep, millis timeout) : ep_(std::move(ep)), timeout_(timeout) {}

redis_client::~redis_client() { drop(); }

void redis_client::drop() {
  if (ctx_) redisFree(ctx_);
  ctx_ = nullptr;
}

static redis_reply convert(const redisReply* r) {
  redis_reply out;
  switch (r->type) {
    case REDIS_REPLY_INTEGER: out.type = redis_reply::kind::integer; out.integer = r->integer; break;
    case REDIS_REPLY_STRING: out.type = redis_reply::kind::string; out.str.assign(r->str, r->len); break;
    case REDIS_REPLY_STATUS: out.type = redis_reply::kind::status; out.str.assign(r->str, r->len); break;
    case REDIS_REPLY_ERROR: out.type = redis_reply::kind::error; out.str.assign(r->str, r->len); break;
    case REDIS_REPLY_ARRAY:
      out.type = redis_reply::kind::array;
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(convert(r->element[i]));
      break;
    default: out.type = redis_reply::kind::nil; break;
  }
  return out;
}

std::optional<std::string> redis_client::connect() {
  timeval tv{static_cast<time_t>(timeout_.count() / 1000), static_cast<suseconds_t>((timeout_.count() % 1000) * 1000)};
  ctx_ = redisConnectWithTimeout(ep_.host.c_str(), ep_.port, tv);
  if (!ctx_ || ctx_->err) {
    std::string why = ctx_ ? ctx_->errstr : "cannot allocate a Redis context";
    drop();
    return "redis " + ep_.host + ":" + std::to_string(ep_.port) + ": " + why;
  }
  redisSetTimeout(ctx_, tv);
  // TCP keepalive: a Redis that vanished without closing (a cut network) is noticed even on a
  // connection that only listens, as a pub/sub subscription does.
  redisEnableKeepAlive(ctx_);
  auto setup = [&](std::vector<std::string> argv) -> std::optional<std::string> {
    auto r = command(argv);
    if (auto* e = std::get_if<std::string>(&r)) return *e;
    if (std::get<redis_reply>(r).is_error()) return "redis " + argv[0] + ": " + std::get<redis_reply>(r).str;
    return std::nullopt;
  };
  if (!ep_.password.empty()) {
    auto e = ep_.user.empty() ? setup({"AUTH", ep_.password}) : setup({"AUTH", ep_.user, ep_.password});
    if (e) {
      drop();
      return e;
    }
  }
  if (ep_.db != 0)
    if (auto e = setup({"SELECT", std::to_string(ep_.db)})) {
      drop();
      return e;
    }
  return std::nullopt;
}

std::variant<redis_reply, std::string> redis_client::command(const std::vector<std::string>& argv) {
  if (!ctx_)
    if (auto e = connect()) return *e;
  std::vector<const char*> args;
  std::vector<size_t> lens;
  for (const auto& a : argv) {
    args.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* r = static_cast<redisReply*>(redisCommandArgv(ctx_, static_cast<int>(args.size()), args.data(), lens.data()));
  if (!r) {
    std::string why = ctx_->errstr;
    drop();  // the connection is unusable after an I/O error; the next command reconnects
    return "redis " + ep_.host + ":" + std::to_string(ep_.port) + ": " + why;
  }
  redis_reply out = convert(r);
  freeReplyObject(r);
  return out;
}

std::variant<std::optional<redis_reply>, std::string> redis_client::next_push(millis wait) {
  if (!ctx_) return std::string("not connected");
  auto failed = [&] {
    std::string why = "redis " + ep_.host + ":" + std::to_string(ep_.port) + ": " + (ctx_->err ? ctx_->errstr : "connection closed");
    drop();
    return why;
  };
  void* raw = nullptr;
  if (redisGetReplyFromReader(ctx_, &raw) != REDIS_OK) return failed();
  if (!raw) {  // nothing buffered: wait for the socket, so a quiet channel is not an error
    pollfd p{ctx_->fd, POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(wait.count()));
    if (n == 0) return std::optional<redis_reply>{};
    if (n < 0) return errno == EINTR ? std::variant<std::optional<redis_reply>, std::string>(std::optional<redis_reply>{}) : failed();
    if (redisBufferRead(ctx_) != REDIS_OK || redisGetReplyFromReader(ctx_, &raw) != REDIS_OK) return failed();
    if (!raw) return std::optional<redis_reply>{};
  }
  auto* r = static_cast<redisReply*>(raw);
  redis_reply out = convert(r);
  freeReplyObject(r);
  return std::optional<redis_reply>(std::move(out));
}

}  // namespace tributary
