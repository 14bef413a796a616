#pragma once
// Where a plugin's calls go: into a library loaded in this process (abi_backend) or across a
// process boundary (process_backend). Either way, what the plugin produces arrives in a
// call_output, which holds it to the vocabulary and the contract the same way.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>
#include <tributary/abi.h>

#include "plugin/plugin.hpp"

namespace tributary {

// Collects and checks what a plugin emits during one call: through the C ABI's trib_output
// (abi()) or, for a plugin in another process, through the typed adders.
class call_output {
 public:
  call_output() : call_output(own_) {}
  // Into a result the caller keeps (reset here): see call_result::reset().
  explicit call_output(call_result& into);
  call_output(const call_output&) = delete;
  call_output& operator=(const call_output&) = delete;

  const trib_output* abi() const { return &out_; }

  void add_request(http_request r) { r_.requests.push_back(std::move(r)); }
  void add_error(fetch_error e) { r_.errors.push_back(std::move(e)); }
  void set_stream(stream_plan p) { plan_ = std::move(p); }
  // A record whose data is one JSON value: an object of fields for a kind with a vocabulary,
  // anything for a free-form kind (where a non-object is an error).
  void add_record(record x, nlohmann::json data);
  void add_abi_record(const trib_record* rec);

  call_result& result() { return r_; }
  std::optional<stream_plan>& stream() { return plan_; }

 private:
  bool known(const record& x);
  bool keep_json_data(record& x, nlohmann::json data);
  bool keep_text_data(record& x, std::string_view text);
  bool keep_abi_fields(record& x, const trib_record* rec);
  void keep_field(record& x, const std::string& name, const nlohmann::json& v);
  bool complete(const record& x);

  call_result own_;
  call_result& r_;
  std::optional<stream_plan> plan_;
  trib_output out_{};
};

// The calls of the C ABI, with the instance implied. Not thread-safe: plugin_instance
// serializes them.
class plugin_backend {
 public:
  virtual ~plugin_backend() = default;
  virtual const plugin_manifest& manifest() const = 0;
  // `host` outlives the backend.
  virtual int32_t create(const trib_host_api& host, std::string_view settings_json, call_output& out) = 0;
  virtual int32_t map_subject(std::string_view kind, std::string_view subject, std::string& native, call_output& out) = 0;
  virtual int32_t plan(const trib_feed_request& feed, call_output& out) = 0;
  virtual int32_t parse(const trib_feed_request& feed, const trib_http_request& req, const trib_http_response& resp,
                        call_output& out) = 0;
  virtual int32_t plan_stream(const trib_feed_request& feed, call_output& out) = 0;
  virtual int32_t parse_message(const trib_feed_request& feed, const trib_stream_message& msg, call_output& out) = 0;
  // What status shows about where the plugin runs ({"isolation": "none"} in process).
  virtual nlohmann::json status() const = 0;
};

error_class class_of_status(int32_t status);
// A request's weight as the budget takes it: a finite positive number (else 1), at most 1e9.
double request_weight(double w);
int32_t status_of_class(error_class c);

}  // namespace tributary
