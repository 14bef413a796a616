#pragma once
// A plugin in a child process: `tributary plugin-host LIB` for a library with
// isolation = "process", or any program for plugin = "exec". Each call is one framed JSON
// message and its answer (frame_io.hpp, wire_json.hpp) within call_timeout (and cpu_limit of
// CPU). A child that dies, overruns or breaks the protocol is killed; the call fails as
// plugin_crashed or plugin_timeout, and the next call after a backoff starts a new child and
// creates the instance again with the same settings.
#include <atomic>
#include <mutex>
#include <optional>

#include "plugin/backend.hpp"
#include "plugin/child_process.hpp"
#include "plugin/frame_io.hpp"
#include "plugin/wire_binary.hpp"
#include "util/duration.hpp"

namespace tributary {

class plugin_codec;

struct process_options {
  child_spec child;
  millis call_timeout{2000};
  millis cpu_limit{0};  // CPU per call; 0 = none
  bool exec = false;    // an exec plugin (else plugin-host with a library)
  millis first_restart_delay{250};
  millis max_restart_delay{30000};
  int64_t spin_us = 200;  // how long a call polls for its answer before it sleeps (0 on a single CPU)
};

class process_backend final : public plugin_backend {
 public:
  // Starts the child and reads its manifest; the error says what failed.
  static std::variant<std::unique_ptr<process_backend>, std::string> start(process_options o);
  ~process_backend() override;

  const plugin_manifest& manifest() const override { return manifest_; }
  int32_t create(const trib_host_api& host, std::string_view settings_json, call_output& out) override;
  int32_t map_subject(std::string_view kind, std::string_view subject, std::string& native, call_output& out) override;
  int32_t plan(const trib_feed_request& feed, call_output& out) override;
  int32_t parse(const trib_feed_request& feed, const trib_http_request& req, const trib_http_response& resp,
                call_output& out) override;
  int32_t plan_stream(const trib_feed_request& feed, call_output& out) override;
  int32_t parse_message(const trib_feed_request& feed, const trib_stream_message& msg, call_output& out) override;
  nlohmann::json status() const override;

 private:
  explicit process_backend(process_options o);
  struct failure {
    error_class cls;
    std::string what;
  };
  enum class waited { answer, failed };

  std::optional<std::string> launch();
  bool ensure_running(call_output& out);
  int32_t call(wire::call_args args, call_output& out, std::string* native = nullptr);
  std::optional<failure> exchange(const wire::call_args& args, call_output& out, wire::answer_state& st);
  std::optional<failure> wait_readable(const char* name, int64_t deadline, int64_t cpu_start);
  wire::frame_reader::fill_result spin_fill();
  int32_t fail(failure f, call_output& out);

  process_options opts_;
  plugin_manifest manifest_;
  std::unique_ptr<plugin_codec> codec_;  // JSON for exec plugins, binary for plugin-host
  std::optional<child_process> child_;
  wire::frame_reader reader_;
  const trib_host_api* host_ = nullptr;
  std::string settings_;  // for creating the instance again in a new child
  bool created_ = false;
  int64_t restart_at_ = 0;  // steady ms: no new child before
  int64_t restart_delay_ = 0;
  std::string out_buf_;     // the outgoing message, reused

  mutable std::mutex status_mu_;  // the fields below; status() never waits for a call
  pid_t pid_ = 0;
  uint64_t starts_ = 0, crashes_ = 0, timeouts_ = 0;
  std::string last_failure_;
  error_class last_failure_class_ = error_class::plugin_crashed;  // a child that is down is down for this
};

}  // namespace tributary
