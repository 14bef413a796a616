#pragma once
// Internal to server/: POST <view route>/refresh (docs/protocol.md, Views): runs the feeds of the
// view's inputs at once (through the control API's run, so within their budgets, on whichever
// node leads) and reports when every input has a newer record than before, or when the wait
// is over. Polls the cache on the session's thread; holds no lock.
#include <functional>

#include "server/server_state.hpp"

namespace tributary {

// Calls `done(true)` once every input of `v` has a newer record, `done(false)` after `wait`.
void refresh_view(net::any_io_executor ex, server::state& st, const view_route& v, millis wait, std::function<void(bool)> done);

}  // namespace tributary
