#include "server/view_refresh.hpp"

#include <boost/asio/steady_timer.hpp>

#include <chrono>

#include "publish/cache.hpp"
#include "server/io_shard.hpp"

namespace tributary {

namespace {

struct refresh_wait : std::enable_shared_from_this<refresh_wait> {
  refresh_wait(net::any_io_executor ex, server::state& st, const view_route& v, millis wait, std::function<void(bool)> done)
      : timer(ex), st(st), inputs(v.inputs), deadline(std::chrono::steady_clock::now() + wait), done(std::move(done)) {
    for (const auto& t : inputs) before.push_back(seq_of(t));
  }
  uint64_t seq_of(const std::string& topic) const {
    auto r = st.cache.latest(topic);
    return r ? r->rec.seq : 0;
  }
  bool all_newer() const {
    for (size_t i = 0; i < inputs.size(); ++i)
      if (seq_of(inputs[i]) <= before[i]) return false;
    return true;
  }
  void poll() {
    if (all_newer()) return done(true);
    if (std::chrono::steady_clock::now() >= deadline) return done(false);
    timer.expires_after(std::chrono::milliseconds(20));
    timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) self->poll();
    });
  }

  net::steady_timer timer;
  server::state& st;
  std::vector<std::string> inputs;
  std::vector<uint64_t> before;
  std::chrono::steady_clock::time_point deadline;
  std::function<void(bool)> done;
};

}  // namespace

void refresh_view(net::any_io_executor ex, server::state& st, const view_route& v, millis wait, std::function<void(bool)> done) {
  auto w = std::make_shared<refresh_wait>(std::move(ex), st, v, wait, std::move(done));  // `before` first, then the runs
  if (st.hooks.control)
    for (const auto& f : v.feeds) st.hooks.control({control_request::action::run_feed, f});
  w->poll();
}

}  // namespace tributary
