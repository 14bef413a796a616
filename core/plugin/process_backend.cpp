#include "plugin/process_backend.hpp"

#include <poll.h>
#include <sched.h>

#include <algorithm>
#include <chrono>

#include "plugin/plugin_codec.hpp"
#include "util/clock.hpp"

namespace tributary {

using json = nlohmann::json;

namespace {
std::string after(int64_t ms) { return std::to_string(ms) + " ms"; }
}  // namespace

namespace {
// Polling for an answer only pays when the child can run on another CPU meanwhile.
bool several_cpus() {
  cpu_set_t set;
  return sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 1;
}
}  // namespace

process_backend::process_backend(process_options o)
    : opts_(std::move(o)), codec_(opts_.exec ? json_codec() : binary_codec()) {
  if (!several_cpus()) opts_.spin_us = 0;
}

std::variant<std::unique_ptr<process_backend>, std::string> process_backend::start(process_options o) {
  std::unique_ptr<process_backend> self(new process_backend(std::move(o)));
  self->restart_delay_ = self->opts_.first_restart_delay.count();
  if (auto why = self->launch()) return *why;
  call_output out;
  wire::answer_state st;
  if (auto f = self->exchange({wire::op::manifest}, out, st)) return "manifest: the plugin process " + f->what;
  if (st.status != TRIB_OK || st.manifest_json.empty()) {
    auto& errors = out.result().errors;
    return "manifest: " + (errors.empty() ? std::string("no manifest in the answer") : errors.front().message);
  }
  auto mf = manifest_from_json(json::parse(st.manifest_json, nullptr, false));
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
  codec_->call({wire::op::destroy}, out_buf_);
  if (wire::send_frame(child_->fd(), out_buf_, wire::steady_ms() + 200)) child_->wait_for(1000);
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
      slice = std::min(left, std::max<int64_t>(opts_.cpu_limit.count() - used, 5));
    }
    pollfd p{child_->fd(), POLLIN, 0};
    int n = poll(&p, 1, static_cast<int>(slice));
    if (n > 0) return std::nullopt;
    if (n < 0 && errno != EINTR) return failure{error_class::plugin_crashed, std::string("lost its socket in ") + name};
  }
}

// Reads what the child has answered, polling the socket for up to spin_us first: an answer
// that comes within that saves the host's sleep and wake-up, which costs tens of microseconds
// when the child runs on another CPU (docs/benchmarks.md, "Plugin isolation").
wire::frame_reader::fill_result process_backend::spin_fill() {
  auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(opts_.spin_us);
  for (;;) {
    auto got = reader_.fill(child_->fd());
    if (got != wire::frame_reader::fill_result::again || std::chrono::steady_clock::now() >= until) return got;
#if defined(__x86_64__)
    __builtin_ia32_pause();
#endif
  }
}

// One call and its answer, read into `out` and `st`; log and count messages before the answer
// are handed to the host's services as they come.
std::optional<process_backend::failure> process_backend::exchange(const wire::call_args& args, call_output& out, wire::answer_state& st) {
  const char* name = name_of(args.o);
  int64_t deadline = wire::steady_ms() + opts_.call_timeout.count();
  int64_t cpu_start = opts_.cpu_limit.count() > 0 ? child_->cpu_ms() : 0;
  codec_->call(args, out_buf_);
  if (!wire::send_frame(child_->fd(), out_buf_, deadline)) {
    if (errno == ETIMEDOUT) return failure{error_class::plugin_timeout, std::string("did not read its call within call_timeout in ") + name};
  } else {
    for (;;) {
      bool too_large = false;
      while (auto frame = reader_.next(too_large)) {
        if (auto why = codec_->read(*frame, out, host_, st)) return failure{error_class::plugin_crashed, std::string("broke the protocol in ") + name + ": " + *why};
        if (st.done) return std::nullopt;
      }
      if (too_large) return failure{error_class::plugin_crashed, std::string("broke the protocol in ") + name + ": a message over 64 MiB"};
      auto got = spin_fill();
      if (got == wire::frame_reader::fill_result::again) {
        if (auto f = wait_readable(name, deadline, cpu_start)) return f;
        got = reader_.fill(child_->fd());
      }
      if (got != wire::frame_reader::fill_result::data && got != wire::frame_reader::fill_result::again) break;
    }
  }
  // The socket closed: the child ended, or is about to.
  auto ended = child_->wait_for(500);
  if (!ended) return failure{error_class::plugin_crashed, std::string("closed its connection in ") + name};
  return failure{error_class::plugin_crashed, describe_exit(*ended) + " in " + name};
}

// Kills the child and schedules the next one; the call fails with `f`.
int32_t process_backend::fail(failure f, call_output& out) {
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
    last_failure_class_ = f.cls;
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
    out.add_error({last_failure_class_, "plugin process is down (" + last_failure_ + "); next start in " + after(restart_at_ - now), {}, 0});
    return false;
  }
  if (auto why = launch()) return fail({error_class::plugin_crashed, "could not start: " + *why}, out), false;
  call_output scratch;
  wire::answer_state mf;
  if (auto f = exchange({wire::op::manifest}, scratch, mf)) return fail(std::move(*f), out), false;
  auto name = json::parse(mf.manifest_json, nullptr, false);
  if (!name.is_object() || name.value("name", "") != manifest_.name)
    return fail({error_class::plugin_crashed, "answered another plugin's manifest after a restart"}, out), false;
  if (!created_) return true;
  wire::answer_state made;
  wire::call_args create{wire::op::create};
  create.a = settings_;
  if (auto f = exchange(create, scratch, made)) return fail(std::move(*f), out), false;
  if (made.status != TRIB_OK) return fail({error_class::plugin_crashed, "refused its settings after a restart"}, out), false;
  return true;
}

int32_t process_backend::call(wire::call_args args, call_output& out, std::string* native) {
  if (!ensure_running(out)) return TRIB_ERR_INTERNAL;
  args.now = host_ ? host_->now_ms(host_->host_ctx) : system_clock_source().now_ms();
  wire::answer_state st;
  if (auto f = exchange(args, out, st)) return fail(std::move(*f), out);
  restart_delay_ = opts_.first_restart_delay.count();  // it answered: the next failure starts the backoff again
  if (!st.malformed.empty()) {
    out.add_error({error_class::internal, std::string("the plugin's answer to ") + name_of(args.o) + " is malformed: " + st.malformed, {}, 0});
    return TRIB_ERR_INTERNAL;
  }
  if (native) *native = std::move(st.native);
  return st.status;
}

int32_t process_backend::create(const trib_host_api& host, std::string_view settings_json, call_output& out) {
  host_ = &host;
  settings_ = std::string(settings_json);
  wire::call_args c{wire::op::create};
  c.a = settings_;
  int32_t rc = call(c, out);
  created_ = rc == TRIB_OK;
  return rc;
}

int32_t process_backend::map_subject(std::string_view kind, std::string_view subject, std::string& native, call_output& out) {
  wire::call_args c{wire::op::map_subject};
  c.a = kind, c.b = subject;
  return call(c, out, &native);
}

int32_t process_backend::plan(const trib_feed_request& feed, call_output& out) {
  wire::call_args c{wire::op::plan};
  c.feed = &feed;
  return call(c, out);
}

int32_t process_backend::parse(const trib_feed_request& feed, const trib_http_request& req, const trib_http_response& resp,
                               call_output& out) {
  wire::call_args c{wire::op::parse};
  c.feed = &feed, c.request = &req, c.response = &resp;
  return call(c, out);
}

int32_t process_backend::plan_stream(const trib_feed_request& feed, call_output& out) {
  wire::call_args c{wire::op::plan_stream};
  c.feed = &feed;
  return call(c, out);
}

int32_t process_backend::parse_message(const trib_feed_request& feed, const trib_stream_message& msg, call_output& out) {
  wire::call_args c{wire::op::parse_message};
  c.feed = &feed, c.message = &msg;
  return call(c, out);
}

}  // namespace tributary
