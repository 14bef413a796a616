#include "plugin/abi_backend.hpp"

namespace tributary {

namespace {
trib_str abi(std::string_view s) { return trib_str{s.data(), s.size()}; }
}  // namespace

abi_backend::~abi_backend() {
  if (inst_) d().destroy(inst_);
}

int32_t abi_backend::create(const trib_host_api& host, std::string_view settings_json, call_output& out) {
  trib_instance* inst = nullptr;
  int32_t rc = d().create(&host, abi(settings_json), &inst, out.abi());
  if (rc != TRIB_OK || !inst) {
    if (inst) d().destroy(inst);
    return rc == TRIB_OK ? TRIB_ERR_INTERNAL : rc;
  }
  inst_ = inst;
  return TRIB_OK;
}

int32_t abi_backend::map_subject(std::string_view kind, std::string_view subject, std::string& native, call_output& out) {
  native.assign(256, '\0');
  size_t len = 0;
  int32_t rc = d().map_subject(inst_, abi(kind), abi(subject), native.data(), native.size(), &len, out.abi());
  if (rc == TRIB_OK && len > native.size()) {
    native.assign(len, '\0');
    rc = d().map_subject(inst_, abi(kind), abi(subject), native.data(), native.size(), &len, out.abi());
  }
  native.resize(std::min(len, native.size()));
  return rc;
}

int32_t abi_backend::plan(const trib_feed_request& feed, call_output& out) { return d().plan(inst_, &feed, out.abi()); }

int32_t abi_backend::parse(const trib_feed_request& feed, const trib_http_request& req, const trib_http_response& resp,
                           call_output& out) {
  return d().parse(inst_, &feed, &req, &resp, out.abi());
}

int32_t abi_backend::plan_stream(const trib_feed_request& feed, call_output& out) {
  return d().plan_stream(inst_, &feed, out.abi());
}

int32_t abi_backend::parse_message(const trib_feed_request& feed, const trib_stream_message& msg, call_output& out) {
  return d().parse_message(inst_, &feed, &msg, out.abi());
}

}  // namespace tributary
