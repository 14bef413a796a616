#pragma once
// How the host writes calls to a plugin process and reads its frames: JSON for exec plugins
// (wire_json.hpp, the documented contract), binary for plugin-host (wire_binary.hpp).
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "plugin/wire_binary.hpp"

namespace tributary {

class call_output;

class plugin_codec {
 public:
  virtual ~plugin_codec() = default;
  virtual void call(const wire::call_args& c, std::string& out) = 0;
  // One frame from the plugin: log and count go to `host`, an answer into `out` and `st`.
  // nullopt, or why the frame breaks the protocol. An answer that keeps the protocol but has
  // the wrong shape sets st.malformed instead: the call fails, the process is kept.
  virtual std::optional<std::string> read(std::string_view frame, call_output& out, const trib_host_api* host,
                                          wire::answer_state& st) = 0;
};

std::unique_ptr<plugin_codec> json_codec();    // exec plugins
std::unique_ptr<plugin_codec> binary_codec();  // plugin-host

const char* name_of(wire::op o);

}  // namespace tributary
