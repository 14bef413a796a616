#include "sink/fenced_writer.hpp"

#include "publish/published.hpp"

#include <charconv>

namespace tributary {

namespace {

// One run appends a batch of records in order, each as the single-record script did: a seq at
// or below the topic's last written is DUP (same epoch) or CONFLICT (an older one), else
// appended. The epoch is checked once, first: a fenced batch writes nothing.
// KEYS: epoch, stream, seqs, offsets, then per record its latest and history keys.
// ARGV: epoch, maxlen, ttl_ms, then per record: topic, seq, record, kind, ts, stale, position key
// ('' for none), position, history size ('0': none), history ttl_ms.
// Returns one entry per record: the stream id, 'DUP' or 'CONFLICT <last seq>'.
constexpr const char* kWrite = R"(
local epoch = tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if epoch < current then
  return redis.error_reply('FENCED epoch ' .. ARGV[1] .. ' is older than ' .. current)
end
local out = {}
for i = 0, (#ARGV - 3) / 10 - 1 do
  local a, k = 3 + i * 10, 5 + i * 2
  local topic, seq = ARGV[a + 1], tonumber(ARGV[a + 2])
  local result
  local prev = redis.call('HGET', KEYS[3], topic)
  if prev then
    local pseq, pepoch = string.match(prev, '^(%d+)|(%d+)$')
    pseq = tonumber(pseq)
    if pseq and seq <= pseq then
      if tonumber(pepoch) == epoch then result = 'DUP' else result = 'CONFLICT ' .. pseq end
    end
  end
  if not result then
    result = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*',
                        'topic', topic, 'epoch', ARGV[1], 'seq', ARGV[a + 2], 'kind', ARGV[a + 4], 'ts', ARGV[a + 5],
                        'stale', ARGV[a + 6], 'record', ARGV[a + 3])
    redis.call('SET', KEYS[k], ARGV[a + 3], 'PX', ARGV[3])
    redis.call('HSET', KEYS[3], topic, ARGV[a + 2] .. '|' .. ARGV[1])
    if ARGV[a + 7] ~= '' then redis.call('HSET', KEYS[4], ARGV[a + 7], ARGV[a + 8]) end
    if ARGV[a + 9] ~= '0' then
      redis.call('XADD', KEYS[k + 1], 'MAXLEN', '~', ARGV[a + 9], '*', 'seq', ARGV[a + 2], 'epoch', ARGV[1], 'record', ARGV[a + 3])
      redis.call('PEXPIRE', KEYS[k + 1], ARGV[a + 10])
    end
  end
  out[#out + 1] = result
end
return out)";

// Sets `s` to `v`'s decimal text, keeping its room.
void set_number(std::string& s, uint64_t v) {
  char buf[24];
  auto end = std::to_chars(buf, buf + sizeof buf, v).ptr;
  s.assign(buf, end);
}

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

fenced_writer::result fenced_writer::write(uint64_t epoch, const published_record& r, std::string* error, uint64_t* last_seq) {
  const published_record* one[] = {&r};
  std::vector<outcome> out;
  auto res = write_batch(epoch, one, out, error);
  if (res != result::written) return res;
  if (last_seq) *last_seq = out[0].last_seq;
  if (error && out[0].res == result::conflict) *error = out[0].why;
  return out[0].res;
}

void fenced_writer::build_args(uint64_t epoch, std::span<const published_record* const> recs) {
  size_t keys = 4 + 2 * recs.size();
  args_.resize(3 + keys + 3 + 10 * recs.size());
  args_[0] = "EVALSHA";
  args_[1] = sha_;
  set_number(args_[2], keys);
  auto key = args_.begin() + 3;
  auto arg = key + static_cast<std::ptrdiff_t>(keys);
  *key++ = prefix_ + "epoch";
  *key++ = stream_key();
  *key++ = prefix_ + "seqs";
  *key++ = prefix_ + "offsets";
  set_number(*arg++, epoch);
  set_number(*arg++, maxlen_);
  set_number(*arg++, static_cast<uint64_t>(ttl_.count()));
  for (const auto* r : recs) {
    const history_rule* keep = history_ ? &history_->rule_for(r->topic) : nullptr;
    *key++ = latest_key(r->topic);
    *key++ = history_stream_key(prefix_, r->topic);
    arg++->assign(r->topic);
    set_number(*arg++, r->rec.seq);
    arg++->assign(r->json);
    arg++->assign(r->rec.kind);
    *arg++ = std::to_string(r->rec.ts);
    arg++->assign(r->rec.stale ? "1" : "0");
    arg++->assign(r->position_key);
    *arg++ = std::to_string(r->position);
    set_number(*arg++, keep ? keep->size : 0);
    set_number(*arg++, keep ? static_cast<uint64_t>(keep->ttl.count()) : 0);
  }
}

// The script by its SHA, loaded first when this writer has not (or Redis lost it: restarted,
// SCRIPT FLUSH). Why Redis could not be reached, or its reply.
std::variant<redis_reply, std::string> fenced_writer::run_script() {
  for (int attempt = 0;; ++attempt) {
    if (sha_.empty()) {
      auto loaded = redis_.command({"SCRIPT", "LOAD", kWrite});
      if (auto* e = std::get_if<std::string>(&loaded)) return *e;
      auto& rep = std::get<redis_reply>(loaded);
      if (rep.is_error()) return rep;
      sha_ = rep.str;
    }
    args_[1] = sha_;
    auto reply = redis_.command(args_);
    auto* rep = std::get_if<redis_reply>(&reply);
    if (attempt > 0 || !rep || !rep->is_error() || rep->str.rfind("NOSCRIPT", 0) != 0) return reply;
    sha_.clear();
  }
}

fenced_writer::result fenced_writer::write_batch(uint64_t epoch, std::span<const published_record* const> recs,
                                                 std::vector<outcome>& out, std::string* error) {
  out.clear();
  if (recs.empty()) return result::written;
  build_args(epoch, recs);
  auto reply = run_script();
  if (auto* e = std::get_if<std::string>(&reply)) {
    if (error) *error = *e;
    return result::unavailable;
  }
  auto& rep = std::get<redis_reply>(reply);
  if (rep.is_error()) {
    if (error) *error = rep.str;
    return rep.str.rfind("FENCED", 0) == 0 ? result::fenced : result::unavailable;
  }
  if (rep.type != redis_reply::kind::array || rep.elements.size() != recs.size()) {
    if (error) *error = "the write script answered " + std::to_string(rep.elements.size()) + " results for " + std::to_string(recs.size()) + " records";
    return result::unavailable;
  }
  for (size_t i = 0; i < recs.size(); ++i) out.push_back(outcome_of(rep.elements[i].str, *recs[i]));
  return result::written;
}

fenced_writer::outcome fenced_writer::outcome_of(const std::string& answer, const published_record& r) {
  if (answer == "DUP") return {result::duplicate, 0, {}};
  if (answer.rfind("CONFLICT ", 0) == 0)
    return {result::conflict, std::strtoull(answer.c_str() + 9, nullptr, 10),
            "seq " + std::to_string(r.rec.seq) + " of " + r.topic + " was written by an earlier leader"};
  return {result::written, 0, {}};
}

}  // namespace tributary
