#include "cluster/fenced_writer.hpp"

#include "sink/published.hpp"

namespace tributary {

namespace {

// KEYS: epoch, stream, latest. ARGV: epoch, maxlen, topic, seq, record, ttl_ms.
constexpr const char* kWrite = R"(
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) < current then
  return redis.error_reply('FENCED epoch ' .. ARGV[1] .. ' is older than ' .. current)
end
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*',
                      'topic', ARGV[3], 'epoch', ARGV[1], 'seq', ARGV[4], 'record', ARGV[5])
redis.call('SET', KEYS[3], ARGV[5], 'PX', ARGV[6])
return id)";

}  // namespace

fenced_writer::fenced_writer(redis_client& redis, std::string name, size_t maxlen, millis ttl)
    : redis_(redis), prefix_("tributary:" + name + ":"), maxlen_(maxlen), ttl_(ttl) {}

fenced_writer::result fenced_writer::write(uint64_t epoch, const published_record& r, std::string* error) {
  auto reply = redis_.command({"EVAL", kWrite, "3", prefix_ + "epoch", stream_key(), latest_key(r.topic), std::to_string(epoch),
                               std::to_string(maxlen_), r.topic, std::to_string(r.rec.seq), r.json,
                               std::to_string(ttl_.count())});
  if (auto* e = std::get_if<std::string>(&reply)) {
    if (error) *error = *e;
    return result::unavailable;
  }
  auto& rep = std::get<redis_reply>(reply);
  if (rep.is_error()) {
    if (error) *error = rep.str;
    return rep.str.rfind("FENCED", 0) == 0 ? result::fenced : result::unavailable;
  }
  return result::written;
}

}  // namespace tributary
