#pragma once
// The control API's requests (run, pause or resume a feed, reset a source): made by the server
// from a request path, applied by the host, shared through Redis by the cluster node.
#include <string>

namespace tributary {

struct control_request {
  enum class action { run_feed, pause_feed, resume_feed, reset_source } what;
  std::string target;  // feed id or source name
};
struct control_reply {
  int status = 200;     // 200, or 404 for an unknown target
  std::string message;  // what happened, or why not
};

}  // namespace tributary
