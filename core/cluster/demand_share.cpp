#include "cluster/demand_share.hpp"

#include <algorithm>
#include <iterator>
#include <variant>
#include <vector>

#include "net/redis.hpp"

namespace tributary {

namespace {
bool ok(const std::variant<redis_reply, std::string>& r) {
  auto* rep = std::get_if<redis_reply>(&r);
  return rep && !rep->is_error();
}
}  // namespace

void demand_share::step(redis_client& r, bool leader, int64_t now) {
  if (!write(r, now)) {
    refreshed_at_ = 0;  // Redis did not take it: everything again next time
    return;
  }
  if (leader && watching_()) read(r, now);
}

bool demand_share::write(redis_client& r, int64_t now) {
  topics want = local_();
  std::vector<std::string> gone;
  std::set_difference(written_.begin(), written_.end(), want.begin(), want.end(), std::back_inserter(gone));
  if (!gone.empty()) {
    std::vector<std::string> argv{"ZREM", key_};
    for (auto& t : gone) argv.push_back(member(t));
    if (!ok(r.command(argv))) return false;
  }
  bool refresh = refreshed_at_ == 0 || now - refreshed_at_ >= ttl_ / 3;
  std::vector<std::string> argv{"ZADD", key_};
  std::string expires = std::to_string(now + ttl_);
  for (auto& t : want)
    if (refresh || !written_.count(t)) argv.insert(argv.end(), {expires, member(t)});
  written_ = want;
  if (argv.size() > 2 && !ok(r.command(argv))) return false;
  if (refresh) refreshed_at_ = now;
  return true;
}

void demand_share::read(redis_client& r, int64_t now) {
  r.command({"ZREMRANGEBYSCORE", key_, "-inf", std::to_string(now)});  // members of nodes gone (housekeeping)
  auto got = r.command({"ZRANGEBYSCORE", key_, std::to_string(now + 1), "+inf"});
  auto* rep = std::get_if<redis_reply>(&got);
  if (!rep || rep->type != redis_reply::kind::array) return;  // unknown: keep what was read last
  topics all;
  for (auto& e : rep->elements)
    if (auto sp = e.str.find(' '); sp != std::string::npos) all.insert(e.str.substr(0, sp));
  all_(all);
}

}  // namespace tributary
