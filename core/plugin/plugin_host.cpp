#include "plugin/plugin_host.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <new>

#include "plugin/child_process.hpp"
#include "plugin/frame_io.hpp"
#include "plugin/plugin.hpp"
#include "plugin/wire_binary.hpp"

namespace tributary {

namespace {

trib_str abi(std::string_view s) { return {s.data(), s.size()}; }

// The child side: one library, at most one instance, calls answered in order, in the binary
// form of the protocol.
class plugin_server {
 public:
  plugin_server(int fd, std::shared_ptr<plugin_library> lib, std::string load_error)
      : fd_(fd), lib_(std::move(lib)), load_error_(std::move(load_error)) {
    api_.struct_size = sizeof api_;
    api_.abi_major = TRIB_ABI_MAJOR;
    api_.abi_minor = TRIB_ABI_MINOR;
    api_.host_ctx = this;
    api_.log = [](void* ctx, int32_t level, trib_str m) {
      static_cast<plugin_server*>(ctx)->send(wire::answer_writer::log(level, {m.ptr, m.len}));
    };
    api_.now_ms = [](void* ctx) { return static_cast<plugin_server*>(ctx)->now_; };
    api_.counter_add = [](void* ctx, trib_str name, double v) {
      static_cast<plugin_server*>(ctx)->send(wire::answer_writer::count({name.ptr, name.len}, v));
    };
    out_.struct_size = sizeof out_;
    out_.ctx = &answer_;
    out_.emit_request = [](void* ctx, const trib_http_request* q) { static_cast<wire::answer_writer*>(ctx)->request(*q); };
    out_.emit_record = [](void* ctx, const trib_record* r) { static_cast<wire::answer_writer*>(ctx)->record(*r); };
    out_.emit_error = [](void* ctx, const trib_error* e) { static_cast<wire::answer_writer*>(ctx)->error(*e); };
    out_.emit_stream = [](void* ctx, const trib_stream_plan* p) { static_cast<wire::answer_writer*>(ctx)->stream(*p); };
  }
  ~plugin_server() {
    if (inst_) d().destroy(inst_);
  }

  int run();

 private:
  const trib_plugin_descriptor& d() const { return *lib_->descriptor(); }
  void send(const std::string& frame) {
    if (!wire::send_frame(fd_, frame, -1)) _exit(0);  // the host is gone
  }
  int32_t refuse(int32_t status, const std::string& message) {
    trib_error e{sizeof(trib_error), status, 0, abi(message), {}};
    answer_.error(e);
    return status;
  }
  int32_t dispatch(const wire::read_call_result& c);
  int32_t create(std::string_view settings);
  int32_t map_subject(std::string_view kind, std::string_view subject);
  bool streams() const { return TRIB_HAS_MEMBER(&d(), trib_plugin_descriptor, parse_message) && d().plan_stream && d().parse_message; }

  int fd_;
  std::shared_ptr<plugin_library> lib_;
  std::string load_error_;
  trib_host_api api_{};
  trib_output out_{};
  trib_instance* inst_ = nullptr;
  int64_t now_ = 0;
  wire::answer_writer answer_;
  bool done_ = false;
};

int32_t plugin_server::create(std::string_view settings) {
  if (inst_) return refuse(TRIB_ERR_BAD_REQUEST, "the instance exists already");
  int32_t rc = d().create(&api_, abi(settings), &inst_, &out_);
  if (rc != TRIB_OK && inst_) d().destroy(inst_), inst_ = nullptr;
  return rc == TRIB_OK && !inst_ ? TRIB_ERR_INTERNAL : rc;
}

int32_t plugin_server::map_subject(std::string_view kind, std::string_view subject) {
  std::string native(256, '\0');
  size_t len = 0;
  auto call = [&] { return d().map_subject(inst_, abi(kind), abi(subject), native.data(), native.size(), &len, &out_); };
  int32_t rc = call();
  if (rc == TRIB_OK && len > native.size()) native.assign(len, '\0'), rc = call();
  native.resize(std::min(len, native.size()));
  answer_.native(native);
  return rc;
}

int32_t plugin_server::dispatch(const wire::read_call_result& c) {
  using wire::op;
  const auto& a = c.args;
  if (a.o == op::destroy) {
    if (inst_) d().destroy(inst_), inst_ = nullptr;
    done_ = true;
    return TRIB_OK;
  }
  if (!lib_) return refuse(TRIB_ERR_BAD_REQUEST, load_error_);
  if (a.o == op::manifest) return answer_.manifest(lib_->manifest().to_json().dump()), TRIB_OK;
  if (a.o == op::create) return create(a.a);
  if (!inst_) return refuse(TRIB_ERR_BAD_REQUEST, "no instance: call create first");
  switch (a.o) {
    case op::map_subject: return map_subject(a.a, a.b);
    case op::plan: return d().plan(inst_, a.feed, &out_);
    case op::parse: return d().parse(inst_, a.feed, a.request, a.response, &out_);
    case op::plan_stream: return streams() ? d().plan_stream(inst_, a.feed, &out_) : refuse(TRIB_ERR_BAD_REQUEST, "the plugin does not stream");
    case op::parse_message: return streams() ? d().parse_message(inst_, a.feed, a.message, &out_) : refuse(TRIB_ERR_BAD_REQUEST, "the plugin does not stream");
    default: return refuse(TRIB_ERR_BAD_REQUEST, "unknown call");
  }
}

int plugin_server::run() {
  wire::frame_reader reader;
  wire::read_call_result call;
  while (!done_) {
    bool too_large = false;
    auto frame = reader.next(too_large);
    if (too_large) return 2;
    if (!frame) {
      if (reader.fill(fd_) != wire::frame_reader::fill_result::data) return 0;  // the host closed: done
      continue;
    }
    answer_.begin();
    int32_t rc;
    if (auto why = wire::read_call(*frame, call)) {
      rc = refuse(TRIB_ERR_INTERNAL, "malformed call: " + *why);
    } else {
      now_ = call.args.now;
      rc = dispatch(call);
    }
    send(answer_.finish(rc));
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
