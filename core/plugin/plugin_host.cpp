#include "plugin/plugin_host.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <new>

#include "plugin/child_process.hpp"
#include "plugin/frame_io.hpp"
#include "plugin/plugin.hpp"
#include "plugin/wire_json.hpp"
#include "util/clock.hpp"

namespace tributary {

using json = nlohmann::json;

namespace {

// The child side: one library, at most one instance, calls answered in order.
class plugin_server {
 public:
  plugin_server(int fd, std::shared_ptr<plugin_library> lib, std::string load_error)
      : fd_(fd), lib_(std::move(lib)), load_error_(std::move(load_error)) {
    api_.struct_size = sizeof api_;
    api_.abi_major = TRIB_ABI_MAJOR;
    api_.abi_minor = TRIB_ABI_MINOR;
    api_.host_ctx = this;
    api_.log = [](void* ctx, int32_t level, trib_str m) {
      static const char* names[] = {"trace", "debug", "info", "warn", "error"};
      static_cast<plugin_server*>(ctx)->send({{"log", std::string_view(m.ptr, m.len)}, {"level", names[std::clamp(level, 0, 4)]}});
    };
    api_.now_ms = [](void* ctx) { return static_cast<plugin_server*>(ctx)->now_; };
    api_.counter_add = [](void* ctx, trib_str name, double v) {
      static_cast<plugin_server*>(ctx)->send({{"count", std::string_view(name.ptr, name.len)}, {"value", v}});
    };
    out_.struct_size = sizeof out_;
    out_.ctx = this;
    out_.emit_request = [](void* ctx, const trib_http_request* q) { static_cast<plugin_server*>(ctx)->item("requests", wire::request_json(*q)); };
    out_.emit_record = [](void* ctx, const trib_record* r) { static_cast<plugin_server*>(ctx)->item("records", wire::record_json(*r)); };
    out_.emit_error = [](void* ctx, const trib_error* e) { static_cast<plugin_server*>(ctx)->item("errors", wire::error_json(*e)); };
    out_.emit_stream = [](void* ctx, const trib_stream_plan* p) { static_cast<plugin_server*>(ctx)->answer_["stream"] = wire::stream_json(*p); };
  }
  ~plugin_server() {
    if (inst_) d().destroy(inst_);
  }

  int run();

 private:
  const trib_plugin_descriptor& d() const { return *lib_->descriptor(); }
  void send(const json& j) {
    if (!wire::send_frame(fd_, j.dump(-1, ' ', false, json::error_handler_t::replace), -1)) _exit(0);  // the host is gone
  }
  void item(const char* list, json j) { answer_[list].push_back(std::move(j)); }
  void refuse(int32_t status, std::string message) { item("errors", {{"class", wire::status_name(status)}, {"message", std::move(message)}}); }
  int32_t dispatch(const std::string& call, const json& msg);
  int32_t create(const json& msg);
  int32_t map_subject(const json& msg);
  int32_t with_feed(const std::string& call, const json& msg);

  int fd_;
  std::shared_ptr<plugin_library> lib_;
  std::string load_error_;
  trib_host_api api_{};
  trib_output out_{};
  trib_instance* inst_ = nullptr;
  int64_t now_ = 0;
  json answer_;
  bool done_ = false;
};

int32_t plugin_server::create(const json& msg) {
  if (inst_) return refuse(TRIB_ERR_BAD_REQUEST, "the instance exists already"), TRIB_ERR_BAD_REQUEST;
  std::string settings = msg.value("settings", json::object()).dump();
  int32_t rc = d().create(&api_, {settings.data(), settings.size()}, &inst_, &out_);
  if (rc != TRIB_OK && inst_) d().destroy(inst_), inst_ = nullptr;
  return rc == TRIB_OK && !inst_ ? TRIB_ERR_INTERNAL : rc;
}

int32_t plugin_server::map_subject(const json& msg) {
  std::string kind = msg.value("kind", ""), subject = msg.value("subject", "");
  std::string native(256, '\0');
  size_t len = 0;
  auto call = [&] {
    return d().map_subject(inst_, {kind.data(), kind.size()}, {subject.data(), subject.size()}, native.data(), native.size(), &len, &out_);
  };
  int32_t rc = call();
  if (rc == TRIB_OK && len > native.size()) native.assign(len, '\0'), rc = call();
  native.resize(std::min(len, native.size()));
  answer_["native"] = native;
  return rc;
}

// plan, parse, plan_stream and parse_message: a feed, and what the call needs besides.
int32_t plugin_server::with_feed(const std::string& call, const json& msg) {
  wire::abi_call a;
  std::optional<std::string> why = a.read_feed(msg);
  if (!why && call == "parse") why = a.read_request(msg);
  if (!why && call == "parse") why = a.read_response(msg);
  if (!why && call == "parse_message") why = a.read_message(msg);
  if (why) return refuse(TRIB_ERR_INTERNAL, "malformed call: " + *why), TRIB_ERR_INTERNAL;
  if (call == "plan") return d().plan(inst_, &a.feed, &out_);
  if (call == "parse") return d().parse(inst_, &a.feed, &a.request, &a.response, &out_);
  bool streams = TRIB_HAS_MEMBER(&d(), trib_plugin_descriptor, parse_message) && d().plan_stream && d().parse_message;
  if (!streams) return refuse(TRIB_ERR_BAD_REQUEST, "the plugin does not stream"), TRIB_ERR_BAD_REQUEST;
  if (call == "plan_stream") return d().plan_stream(inst_, &a.feed, &out_);
  return d().parse_message(inst_, &a.feed, &a.message, &out_);
}

int32_t plugin_server::dispatch(const std::string& call, const json& msg) {
  if (call == "destroy") {
    if (inst_) d().destroy(inst_), inst_ = nullptr;
    done_ = true;
    return TRIB_OK;
  }
  if (!lib_) return refuse(TRIB_ERR_BAD_REQUEST, load_error_), TRIB_ERR_BAD_REQUEST;
  if (call == "manifest") {
    answer_["manifest"] = lib_->manifest().to_json();
    return TRIB_OK;
  }
  if (call == "create") return create(msg);
  if (!inst_) return refuse(TRIB_ERR_BAD_REQUEST, "no instance: call create first"), TRIB_ERR_BAD_REQUEST;
  if (call == "map_subject") return map_subject(msg);
  if (call == "plan" || call == "parse" || call == "plan_stream" || call == "parse_message") return with_feed(call, msg);
  return refuse(TRIB_ERR_BAD_REQUEST, "unknown call '" + call + "'"), TRIB_ERR_BAD_REQUEST;
}

int plugin_server::run() {
  wire::frame_reader reader;
  while (!done_) {
    bool too_large = false;
    auto frame = reader.next(too_large);
    if (too_large) return 2;
    if (!frame) {
      if (reader.fill(fd_) != wire::frame_reader::fill_result::data) return 0;  // the host closed: done
      continue;
    }
    json msg = json::parse(*frame, nullptr, false);
    answer_ = json::object();
    std::string call = msg.is_object() ? msg.value("call", "") : "";
    now_ = msg.is_object() && msg.contains("now") && msg["now"].is_number() ? msg["now"].get<int64_t>() : system_clock_source().now_ms();
    int32_t rc = call.empty() ? (refuse(TRIB_ERR_INTERNAL, "a message with no \"call\""), TRIB_ERR_INTERNAL) : dispatch(call, msg);
    answer_["result"] = wire::status_name(rc);
    send(answer_);
  }
  return 0;
}

[[noreturn]] void out_of_memory() {
  static const char msg[] = "tributary plugin-host: out of memory (memory_limit)\n";
  (void)!write(2, msg, sizeof msg - 1);
  _exit(exit_out_of_memory);
}

}  // namespace

int serve_plugin(const std::filesystem::path& library) {
  // The protocol's socket leaves stdin and stdout, so that a plugin printing cannot corrupt it.
  int fd = fcntl(0, F_DUPFD_CLOEXEC, 3);
  if (fd < 0) return perror("plugin-host: no socket on stdin"), 2;
  int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null >= 0) dup2(null, 0), close(null);
  dup2(2, 1);
  std::set_new_handler(out_of_memory);
  auto loaded = plugin_library::load(library);
  std::shared_ptr<plugin_library> lib;
  std::string why;
  if (auto* l = std::get_if<std::shared_ptr<plugin_library>>(&loaded)) lib = *l;
  else why = std::get<std::string>(loaded);
  return plugin_server(fd, lib, why).run();
}

}  // namespace tributary
