#include "sink/fenced_writer.hpp"

#include "publish/published.hpp"

namespace tributary {

namespace {

// KEYS: epoch, stream, latest, seqs, offsets, history. ARGV: epoch, maxlen, topic, seq, record, ttl_ms,
// kind, ts, stale, position key ('' for none), position, history size ('0': none), history ttl_ms.
constexpr const char* kWrite = R"(
local epoch = tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if epoch < current then
  return redis.error_reply('FENCED epoch ' .. ARGV[1] .. ' is older than ' .. current)
end
local seq = tonumber(ARGV[4])
local prev = redis.call('HGET', KEYS[4], ARGV[3])
if prev then
  local pseq, pepoch = string.match(prev, '^(%d+)|(%d+)$')
  pseq = tonumber(pseq)
  if pseq and seq <= pseq then
    if tonumber(pepoch) == epoch then return 'DUP' end
    return 'CONFLICT ' .. pseq
  end
end
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*',
                      'topic', ARGV[3], 'epoch', ARGV[1], 'seq', ARGV[4], 'kind', ARGV[7], 'ts', ARGV[8],
                      'stale', ARGV[9], 'record', ARGV[5])
redis.call('SET', KEYS[3], ARGV[5], 'PX', ARGV[6])
redis.call('HSET', KEYS[4], ARGV[3], ARGV[4] .. '|' .. ARGV[1])
if ARGV[10] ~= '' then redis.call('HSET', KEYS[5], ARGV[10], ARGV[11]) end
if ARGV[12] ~= '0' then
  redis.call('XADD', KEYS[6], 'MAXLEN', '~', ARGV[12], '*', 'seq', ARGV[4], 'epoch', ARGV[1], 'record', ARGV[5])
  redis.call('PEXPIRE', KEYS[6], ARGV[13])
end
return id)";

}  // namespace

fenced_writer::fenced_writer(redis_client& redis, std::string name, size_t maxlen, millis ttl, const history_rules* history)
    : redis_(redis), prefix_("tributary:" + name + ":"), maxlen_(maxlen), ttl_(ttl), history_(history) {}

std::variant<std::map<std::string, uint64_t>, std::string> fenced_writer::written_seqs(redis_client& redis,
                                                                                      const std::string& name) {
  auto reply = redis.command({"HGETALL", "tributary:" + name + ":seqs"});
  if (auto* e = std::get_if<std::string>(&reply)) return *e;
  auto& rep = std::get<redis_reply>(reply);
  if (rep.is_error()) return rep.str;
  std::map<std::string, uint64_t> out;
  for (size_t i = 0; i + 1 < rep.elements.size(); i += 2)
    out[rep.elements[i].str] = std::strtoull(rep.elements[i + 1].str.c_str(), nullptr, 10);  // "seq|epoch"
  return out;
}

std::variant<std::map<std::string, int64_t, std::less<>>, std::string> fenced_writer::written_positions(redis_client& redis,
                                                                                                   const std::string& name) {
  auto reply = redis.command({"HGETALL", "tributary:" + name + ":offsets"});
  if (auto* e = std::get_if<std::string>(&reply)) return *e;
  auto& rep = std::get<redis_reply>(reply);
  if (rep.is_error()) return rep.str;
  std::map<std::string, int64_t, std::less<>> out;
  for (size_t i = 0; i + 1 < rep.elements.size(); i += 2) out[rep.elements[i].str] = std::strtoll(rep.elements[i + 1].str.c_str(), nullptr, 10);
  return out;
}

fenced_writer::fenced_writer::result fenced_writer::write(uint64_t epoch, const published_record& r, std::string* error, uint64_t* last_seq) {
  const history_rule* keep = history_ ? &history_->rule_for(r.topic) : nullptr;
  auto reply = redis_.command({"EVAL", kWrite, "6", prefix_ + "epoch", stream_key(), latest_key(r.topic), prefix_ + "seqs",
                               prefix_ + "offsets", history_stream_key(prefix_, r.topic), std::to_string(epoch), std::to_string(maxlen_), r.topic,
                               std::to_string(r.rec.seq), r.json, std::to_string(ttl_.count()), r.rec.kind, std::to_string(r.rec.ts),
                               r.rec.stale ? "1" : "0", r.position_key, std::to_string(r.position), std::to_string(keep ? keep->size : 0),
                               std::to_string(keep ? keep->ttl.count() : 0)});
  if (auto* e = std::get_if<std::string>(&reply)) {
    if (error) *error = *e;
    return result::unavailable;
  }
  auto& rep = std::get<redis_reply>(reply);
  if (rep.is_error()) {
    if (error) *error = rep.str;
    return rep.str.rfind("FENCED", 0) == 0 ? result::fenced : result::unavailable;
  }
  if (rep.str == "DUP") return result::duplicate;
  if (rep.str.rfind("CONFLICT ", 0) == 0) {
    if (last_seq) *last_seq = std::strtoull(rep.str.c_str() + 9, nullptr, 10);
    if (error) *error = "seq " + std::to_string(r.rec.seq) + " of " + r.topic + " was written by an earlier leader";
    return result::conflict;
  }
  return result::written;
}

}  // namespace tributary
