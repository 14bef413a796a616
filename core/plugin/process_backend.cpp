#include "plugin/process_backend.hpp"

#include <poll.h>

#include <algorithm>

#include "plugin/wire_json.hpp"

namespace tributary {

using json = nlohmann::json;

namespace {

int32_t level_of(const std::string& name) {
  static const char* names[] = {"trace", "debug", "info", "warn", "error"};
  for (int32_t i = 0; i < 5; ++i)
    if (name == names[i]) return i;
  return TRIB_LOG_INFO;
}

std::string after(int64_t ms) { return std::to_string(ms) + " ms"; }

}  // namespace

std::variant<std::unique_ptr<process_backend>, std::string> process_backend::start(process_options o) {
  std::unique_ptr<process_backend> self(new process_backend(std::move(o)));
  self->restart_delay_ = self->opts_.first_restart_delay.count();
  if (auto why = self->launch()) return *why;
  auto got = self->exchange("manifest", {{"call", "manifest"}});
  if (auto* f = std::get_if<failure>(&got)) return "manifest: the plugin process " + f->what;
  auto& ans = std::get<json>(got);
  if (ans.value("result", "") != "ok") {
    auto errors = ans.value("errors", json::array());
    std::string why = errors.empty() || !errors[0].is_object() ? "no reason given" : errors[0].value("message", "no reason given");
    return "manifest: " + why;
  }
  auto mf = manifest_from_json(ans.value("manifest", json()));
  if (auto* why = std::get_if<std::string>(&mf)) return *why;
  self->manifest_ = std::move(std::get<plugin_manifest>(mf));
  const auto& argv = self->opts_.child.argv;
  std::string path;
  for (size_t i = self->opts_.exec ? 0 : argv.size() - 1; i < argv.size(); ++i) path += (path.empty() ? "" : " ") + argv[i];
  self->manifest_.path = path;
  return self;
}

process_backend::~process_backend() {
  if (!child_) return;
  json bye{{"call", "destroy"}};
  if (wire::send_frame(child_->fd(), bye.dump(), wire::steady_ms() + 200)) child_->wait_for(1000);
  child_.reset();  // kills and reaps it if it is still there
}

std::optional<std::string> process_backend::launch() {
  auto spawned = child_process::spawn(opts_.child);
  if (auto* why = std::get_if<std::string>(&spawned)) return *why;
  child_.emplace(std::move(std::get<child_process>(spawned)));
  reader_.reset();
  std::lock_guard lk(status_mu_);
  pid_ = child_->pid();
  ++starts_;
  return std::nullopt;
}

json process_backend::status() const {
  std::lock_guard lk(status_mu_);
  return {{"isolation", opts_.exec ? "exec" : "process"},
          {"pid", pid_ ? json(pid_) : json(nullptr)},
          {"restarts", starts_ > 0 ? starts_ - 1 : 0},
          {"crashes", crashes_},
          {"timeouts", timeouts_},
          {"last_failure", last_failure_.empty() ? json(nullptr) : json(last_failure_)}};
}

void process_backend::handle_event(const json& j) {
  if (!host_) return;
  if (auto m = j.find("log"); m != j.end() && m->is_string()) {
    const auto& text = m->get_ref<const std::string&>();
    host_->log(host_->host_ctx, level_of(j.value("level", "info")), {text.data(), text.size()});
  } else if (auto c = j.find("count"); c != j.end() && c->is_string()) {
    const auto& name = c->get_ref<const std::string&>();
    auto v = j.find("value");
    host_->counter_add(host_->host_ctx, {name.data(), name.size()}, v != j.end() && v->is_number() ? v->get<double>() : 1);
  }
}

// Until the socket has something to read, the call's deadline passes or it has used its CPU.
std::optional<process_backend::failure> process_backend::wait_readable(const char* name, int64_t deadline, int64_t cpu_start) {
  for (;;) {
    int64_t left = deadline - wire::steady_ms();
    if (left <= 0)
      return failure{error_class::plugin_timeout, std::string("took longer than call_timeout (") + format_duration(opts_.call_timeout) + ") in " + name};
    int64_t slice = left;
    if (opts_.cpu_limit.count() > 0) {
      int64_t used = child_->cpu_ms() - cpu_start;
      if (used >= opts_.cpu_limit.count())
        return failure{error_class::plugin_timeout, "used more than cpu_limit (" + format_duration(opts_.cpu_limit) + ") of CPU in " + name};
      slice = std::clamp<int64_t>(opts_.cpu_limit.count() - used, 5, left);
    }
    pollfd p{child_->fd(), POLLIN, 0};
    int n = poll(&p, 1, static_cast<int>(slice));
    if (n > 0) return std::nullopt;
    if (n < 0 && errno != EINTR) return failure{error_class::plugin_crashed, std::string("lost its socket in ") + name};
  }
}

// One call's message and its answer; log and count messages before the answer are handled.
std::variant<json, process_backend::failure> process_backend::exchange(const char* name, const json& msg) {
  int64_t deadline = wire::steady_ms() + opts_.call_timeout.count();
  int64_t cpu_start = opts_.cpu_limit.count() > 0 ? child_->cpu_ms() : 0;
  out_buf_ = msg.dump(-1, ' ', false, json::error_handler_t::replace);
  if (!wire::send_frame(child_->fd(), out_buf_, deadline)) {
    if (errno == ETIMEDOUT) return failure{error_class::plugin_timeout, std::string("did not read its call within call_timeout in ") + name};
  } else {
    for (;;) {
      bool too_large = false;
      while (auto frame = reader_.next(too_large)) {
        auto j = json::parse(*frame, nullptr, false);
        if (!j.is_object()) return failure{error_class::plugin_crashed, std::string("broke the protocol in ") + name + ": a message that is not a JSON object"};
        if (j.contains("result")) return j;
        handle_event(j);
      }
      if (too_large) return failure{error_class::plugin_crashed, std::string("broke the protocol in ") + name + ": a message over 64 MiB"};
      if (auto f = wait_readable(name, deadline, cpu_start)) return *f;
      if (reader_.fill(child_->fd()) != wire::frame_reader::fill_result::data) break;
    }
  }
  // The socket closed: the child ended, or is about to.
  auto st = child_->wait_for(500);
  if (!st) return failure{error_class::plugin_crashed, std::string("closed its connection in ") + name};
  return failure{error_class::plugin_crashed, describe_exit(*st) + " in " + name};
}

// Kills the child and schedules the next one; the call fails with `f`.
int32_t process_backend::fail(const char* name, failure f, call_output& out) {
  (void)name;
  pid_t pid = child_ ? child_->pid() : 0;
  child_.reset();
  restart_at_ = wire::steady_ms() + restart_delay_;
  std::string what = "plugin process " + std::to_string(pid) + " " + f.what + "; restarting in " + after(restart_delay_);
  restart_delay_ = std::min<int64_t>(restart_delay_ * 2, opts_.max_restart_delay.count());
  {
    std::lock_guard lk(status_mu_);
    pid_ = 0;
    (f.cls == error_class::plugin_timeout ? timeouts_ : crashes_) += 1;
    last_failure_ = what;
  }
  if (host_) host_->log(host_->host_ctx, TRIB_LOG_ERROR, {what.data(), what.size()});
  out.add_error({f.cls, std::move(what), {}, 0});
  return TRIB_ERR_INTERNAL;
}

// A child to call: the running one, or a new one (after the backoff) with the instance made
// again from the same settings.
bool process_backend::ensure_running(call_output& out) {
  if (child_) return true;
  int64_t now = wire::steady_ms();
  if (now < restart_at_) {
    std::lock_guard lk(status_mu_);
    out.add_error({error_class::plugin_crashed, "plugin process is down (" + last_failure_ + "); next start in " + after(restart_at_ - now), {}, 0});
    return false;
  }
  if (auto why = launch()) return fail("start", {error_class::plugin_crashed, "could not start: " + *why}, out), false;
  auto got = exchange("manifest", {{"call", "manifest"}});
  if (auto* f = std::get_if<failure>(&got)) return fail("manifest", std::move(*f), out), false;
  if (std::get<json>(got).value("manifest", json::object()).value("name", "") != manifest_.name)
    return fail("manifest", {error_class::plugin_crashed, "answered another plugin's manifest after a restart"}, out), false;
  if (!created_) return true;
  auto made = exchange("create", {{"call", "create"}, {"settings", json::parse(settings_, nullptr, false)}});
  if (auto* f = std::get_if<failure>(&made)) return fail("create", std::move(*f), out), false;
  if (std::get<json>(made).value("result", "") != "ok")
    return fail("create", {error_class::plugin_crashed, "refused its settings after a restart"}, out), false;
  return true;
}

int32_t process_backend::call(const char* name, json msg, call_output& out, wire::answer* answer) {
  if (!ensure_running(out)) return TRIB_ERR_INTERNAL;
  msg["now"] = host_ ? host_->now_ms(host_->host_ctx) : 0;
  auto got = exchange(name, msg);
  if (auto* f = std::get_if<failure>(&got)) return fail(name, std::move(*f), out);
  restart_delay_ = opts_.first_restart_delay.count();  // it answered: the next failure starts the backoff again
  auto read = wire::read_answer(std::get<json>(got), out);
  if (auto* why = std::get_if<std::string>(&read)) {
    out.add_error({error_class::internal, std::string("the plugin's answer to ") + name + " is malformed: " + *why, {}, 0});
    return TRIB_ERR_INTERNAL;
  }
  if (answer) *answer = std::move(std::get<wire::answer>(read));
  return std::get<wire::answer>(read).status;
}

int32_t process_backend::create(const trib_host_api& host, std::string_view settings_json, call_output& out) {
  host_ = &host;
  settings_ = std::string(settings_json);
  int32_t rc = call("create", {{"call", "create"}, {"settings", json::parse(settings_, nullptr, false)}}, out);
  created_ = rc == TRIB_OK;
  return rc;
}

int32_t process_backend::map_subject(std::string_view kind, std::string_view subject, std::string& native, call_output& out) {
  wire::answer a;
  int32_t rc = call("map_subject", {{"call", "map_subject"}, {"kind", kind}, {"subject", subject}}, out, &a);
  native = std::move(a.native);
  return rc;
}

int32_t process_backend::plan(const trib_feed_request& feed, call_output& out) {
  return call("plan", {{"call", "plan"}, {"feed", wire::feed_json(feed)}}, out);
}

int32_t process_backend::parse(const trib_feed_request& feed, const trib_http_request& req, const trib_http_response& resp,
                               call_output& out) {
  return call("parse",
              {{"call", "parse"}, {"feed", wire::feed_json(feed)}, {"request", wire::request_json(req)}, {"response", wire::response_json(resp)}},
              out);
}

int32_t process_backend::plan_stream(const trib_feed_request& feed, call_output& out) {
  return call("plan_stream", {{"call", "plan_stream"}, {"feed", wire::feed_json(feed)}}, out);
}

int32_t process_backend::parse_message(const trib_feed_request& feed, const trib_stream_message& msg, call_output& out) {
  return call("parse_message", {{"call", "parse_message"}, {"feed", wire::feed_json(feed)}, {"message", wire::message_json(msg)}}, out);
}

}  // namespace tributary
