#include "net/redis.hpp"

#include "net/tls_socket.hpp"
#include "net/fd_wait.hpp"

#include <boost/url/parse.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <hiredis/hiredis.h>

#include <charconv>

namespace tributary {

std::variant<redis_endpoint, std::string> parse_redis_url_or_why(const std::string& url) {
  auto u = boost::urls::parse_uri(url);
  if (!u) return std::string("not a URL (redis://[user:password@]host[:port][/db])");
  if (u->scheme() != "redis" && u->scheme() != "rediss")
    return "the scheme is '" + std::string(u->scheme()) + "', not redis:// or rediss://";
  redis_endpoint ep;
  ep.tls = u->scheme() == "rediss";
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
  tls_.reset();  // before the socket it runs on is closed
  if (ctx_) redisFree(ctx_);
  ctx_ = nullptr;
}

std::string redis_client::failed(const std::string& why) {
  drop();  // the connection is unusable after an I/O error; the next command reconnects
  return "redis " + ep_.host + ":" + std::to_string(ep_.port) + ": " + why;
}

namespace {
// hiredis's reader builds each reply straight into the caller's redis_reply, in place, instead
// of allocating a redisReply (and a copy of its string) per element that is then converted and
// freed: a reply tree read into again keeps its vectors' and strings' room, so a stream reader
// taking thousands of entries a second allocates nothing for them. The root is the redis_reply
// the reader's privdata points to (the client's building_); an element is its parent's
// elements[idx]. An array grows as its elements arrive, not by the count its header claims, so
// a reply saying it holds two billion elements costs only what is sent. Nothing may throw into
// hiredis (C): a failure is a null object, which it reports as out of memory.
redis_reply& slot_for(const redisReadTask* task) {
  if (!task->parent) return *static_cast<redis_reply*>(task->privdata);
  auto& siblings = static_cast<redis_reply*>(task->parent->obj)->elements;
  auto idx = static_cast<size_t>(task->idx);  // in order: idx <= size
  if (idx == siblings.size()) siblings.emplace_back();
  return siblings[idx];
}

template <class F>
void* guarded(const redisReadTask* task, redis_reply::kind k, F&& fill) noexcept {
  try {
    auto& out = slot_for(task);
    out.type = k;
    out.integer = 0;
    out.str.clear();
    fill(out);
    return &out;
  } catch (...) {
    return nullptr;
  }
}

void* make_string(const redisReadTask* task, char* s, size_t len) {
  auto k = task->type == REDIS_REPLY_ERROR    ? redis_reply::kind::error
           : task->type == REDIS_REPLY_STATUS ? redis_reply::kind::status
                                              : redis_reply::kind::string;
  return guarded(task, k, [&](redis_reply& out) {
    out.str.assign(s, len);
    out.elements.clear();
  });
}

void* make_array(const redisReadTask* task, int n) {
  return guarded(task, redis_reply::kind::array, [&](redis_reply& out) {
    // What it held beyond n goes; what it held below n is written over, keeping its room.
    out.elements.resize(std::min(out.elements.size(), static_cast<size_t>(std::max(n, 0))));
  });
}

void* make_integer(const redisReadTask* task, long long v) {
  return guarded(task, redis_reply::kind::integer, [&](redis_reply& out) {
    out.integer = v;
    out.elements.clear();
  });
}

void* make_nil(const redisReadTask* task) {
  return guarded(task, redis_reply::kind::nil, [](redis_reply& out) { out.elements.clear(); });
}

void free_nothing(void*) {}  // the tree is the caller's

redisReplyObjectFunctions in_place{make_string, make_array, make_integer, make_nil, free_nothing};
}  // namespace

std::optional<std::string> redis_client::connect() {
  timeval tv{static_cast<time_t>(timeout_.count() / 1000), static_cast<suseconds_t>((timeout_.count() % 1000) * 1000)};
  ctx_ = redisConnectWithTimeout(ep_.host.c_str(), ep_.port, tv);
  if (!ctx_ || ctx_->err) {
    std::string why = ctx_ ? ctx_->errstr : "cannot allocate a Redis context";
    return failed(why);
  }
  redisSetTimeout(ctx_, tv);
  ctx_->reader->fn = &in_place;
  ctx_->reader->privdata = &building_;  // stays put while a reply arrives over several reads
  // TCP keepalive: a Redis that vanished without closing (a cut network) is noticed even on a
  // connection that only listens, as a pub/sub subscription does.
  redisEnableKeepAlive(ctx_);
  if (ep_.tls)
    if (auto e = start_tls()) return e;
  auto setup = [&](std::vector<std::string> argv) -> std::optional<std::string> {
    auto r = command(argv);
    if (auto* e = std::get_if<std::string>(&r)) return *e;
    if (std::get<redis_reply>(r).is_error()) return "redis " + argv[0] + ": " + std::get<redis_reply>(r).str;
    return std::nullopt;
  };
  std::optional<std::string> e;
  if (!ep_.password.empty()) e = ep_.user.empty() ? setup({"AUTH", ep_.password}) : setup({"AUTH", ep_.user, ep_.password});
  if (!e && ep_.db != 0) e = setup({"SELECT", std::to_string(ep_.db)});
  if (e) drop();
  return e;
}

std::optional<std::string> redis_client::start_tls() {
  auto t = tls_socket::handshake(ctx_->fd, ep_.host, std::chrono::steady_clock::now() + timeout_);
  if (auto* why = std::get_if<std::string>(&t)) return failed(*why);
  tls_ = std::move(std::get<std::unique_ptr<tls_socket>>(t));
  return std::nullopt;
}

std::optional<std::string> redis_client::send(std::span<const std::vector<std::string>> cmds, deadline by) {
  std::vector<const char*> args;
  std::vector<size_t> lens;
  std::string formatted;  // TLS: every command, written at once
  for (const auto& argv : cmds) {
    args.clear();
    lens.clear();
    for (const auto& a : argv) {
      args.push_back(a.data());
      lens.push_back(a.size());
    }
    if (!tls_) {  // hiredis buffers them; written below on its blocking socket, bounded by its send timeout
      if (redisAppendCommandArgv(ctx_, static_cast<int>(args.size()), args.data(), lens.data()) != REDIS_OK) return failed(ctx_->errstr);
      continue;
    }
    char* cmd = nullptr;
    int len = redisFormatCommandArgv(&cmd, static_cast<int>(args.size()), args.data(), lens.data());
    if (len < 0) return failed("cannot format the command");
    formatted.append(cmd, static_cast<size_t>(len));
    redisFreeCommand(cmd);
  }
  if (!tls_) {
    int done = 0;
    while (!done)
      if (redisBufferWrite(ctx_, &done) != REDIS_OK) return failed(ctx_->errstr);
    return std::nullopt;
  }
  if (auto e = tls_->write_all(formatted, by)) return failed(*e);
  return std::nullopt;
}

tls_read redis_client::read_more(deadline by, bool reply_due) {
  using st = tls_read::status;
  if (tls_) {
    char buf[16 * 1024];
    tls_read r = tls_->read_some(buf, sizeof buf, by);
    if (r.st == st::data && redisReaderFeed(ctx_->reader, buf, r.bytes) != REDIS_OK) return {st::failed, 0, "reply buffer"};
    return r;
  }
  if (!reply_due) {  // wait for the socket, so a quiet pub/sub channel is not an error
    auto r = wait_fd(ctx_->fd, POLLIN, by);
    if (r == fd_ready::timeout) return {st::timeout, 0, {}};
    if (r == fd_ready::failed) return {st::failed, 0, std::strerror(errno)};
  }
  if (redisBufferRead(ctx_) != REDIS_OK) return {st::failed, 0, ctx_->err ? ctx_->errstr : "connection closed"};
  return {st::data, 0, {}};
}

std::variant<bool, std::string> redis_client::read_reply(deadline by, bool reply_due, redis_reply& out) {
  for (;;) {
    void* raw = nullptr;
    if (redisGetReplyFromReader(ctx_, &raw) != REDIS_OK) return failed(ctx_->errstr);
    if (raw) {  // made in building_: `out`'s old tree, room and all, is the next one built in
      std::swap(out, building_);
      return true;
    }
    tls_read more = read_more(by, reply_due);
    if (more.st == tls_read::status::timeout) return false;
    if (more.st != tls_read::status::data) return failed(more.why);
  }
}

std::optional<std::string> redis_client::command_into(const std::vector<std::string>& argv, redis_reply& out) {
  if (!ctx_)
    if (auto e = connect()) return *e;
  auto by = std::chrono::steady_clock::now() + timeout_;
  if (auto e = send({&argv, 1}, by)) return *e;
  auto r = read_reply(by, /*reply_due=*/true, out);
  if (auto* e = std::get_if<std::string>(&r)) return *e;
  if (!std::get<bool>(r)) return failed("no reply within " + std::to_string(timeout_.count()) + " ms");
  return std::nullopt;
}

std::optional<std::string> redis_client::pipeline(std::span<const std::vector<std::string>> cmds, std::vector<redis_reply>& out) {
  out.clear();
  if (!ctx_)
    if (auto e = connect()) return *e;
  auto by = std::chrono::steady_clock::now() + timeout_;
  if (auto e = send(cmds, by)) return *e;
  out.resize(cmds.size());
  for (size_t i = 0; i < cmds.size(); ++i) {
    auto r = read_reply(by, /*reply_due=*/true, out[i]);
    std::optional<std::string> why;
    if (auto* e = std::get_if<std::string>(&r)) why = *e;
    else if (!std::get<bool>(r)) why = failed("no reply within " + std::to_string(timeout_.count()) + " ms");
    if (why) {
      out.resize(i);  // the replies read: those commands ran
      return why;
    }
  }
  return std::nullopt;
}

std::variant<redis_reply, std::string> redis_client::command(const std::vector<std::string>& argv) {
  redis_reply out;
  if (auto e = command_into(argv, out)) return *e;
  return out;
}

std::optional<std::string> redis_client::ping() {
  redis_reply out;
  if (auto e = command_into({"PING"}, out)) return e;
  if (out.is_error()) return "PING: " + out.str;
  return std::nullopt;
}

std::variant<std::optional<redis_reply>, std::string> redis_client::next_push(millis wait) {
  redis_reply out;
  auto r = next_push_into(wait, out);
  if (auto* e = std::get_if<std::string>(&r)) return *e;
  return std::get<bool>(r) ? std::optional<redis_reply>(std::move(out)) : std::nullopt;
}

std::variant<bool, std::string> redis_client::next_push_into(millis wait, redis_reply& out) {
  if (!ctx_) return std::string("not connected");
  return read_reply(std::chrono::steady_clock::now() + wait, /*reply_due=*/false, out);
}

bool redis_client::buffered() const { return ctx_ && ctx_->reader && ctx_->reader->pos < ctx_->reader->len; }

}  // namespace tributary
