#pragma once
// A plugin in this process: calls go straight through the C ABI into its library.
#include <memory>

#include "plugin/backend.hpp"

namespace tributary {

class abi_backend final : public plugin_backend {
 public:
  explicit abi_backend(std::shared_ptr<plugin_library> lib) : lib_(std::move(lib)) {}
  ~abi_backend() override;

  const plugin_manifest& manifest() const override { return lib_->manifest(); }
  int32_t create(const trib_host_api& host, std::string_view settings_json, call_output& out) override;
  int32_t map_subject(std::string_view kind, std::string_view subject, std::string& native, call_output& out) override;
  int32_t plan(const trib_feed_request& feed, call_output& out) override;
  int32_t parse(const trib_feed_request& feed, const trib_http_request& req, const trib_http_response& resp,
                call_output& out) override;
  int32_t plan_stream(const trib_feed_request& feed, call_output& out) override;
  int32_t parse_message(const trib_feed_request& feed, const trib_stream_message& msg, call_output& out) override;
  nlohmann::json status() const override { return {{"isolation", "none"}}; }

 private:
  const trib_plugin_descriptor& d() const { return *lib_->descriptor(); }
  std::shared_ptr<plugin_library> lib_;
  trib_instance* inst_ = nullptr;
};

}  // namespace tributary
