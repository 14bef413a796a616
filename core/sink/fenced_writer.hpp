#pragma once
// Stream append and latest-record write in one Lua script that refuses an epoch older than the
// current one: a deposed leader (paused past its lease, say) cannot write anything.
//   tributary:{name}:stream          XADD MAXLEN ~ maxlen  fields: topic, epoch, seq, kind, ts, stale
//                                    (1 or 0), record (the canonical bytes)
//   tributary:{name}:latest:{topic}  the latest record, with a TTL
//   tributary:{name}:seqs            hash topic -> "seq|epoch" of the last record written
//   tributary:{name}:offsets         hash upstream position key -> the offset of the last record
//                                    written from it (a Kafka partition's; see broker.hpp)
//   tributary:{name}:history:{topic} with history rules: the topic's last records for recovery,
//                                    XADD MAXLEN ~ the rule's size, fields seq, epoch and record, expiring
//                                    the rule's ttl after the last write
// Records go in batches, one script run (one round trip) each, by EVALSHA once loaded.
// A seq already written is never appended twice: the same seq from the same epoch is a retry
// whose first try landed (duplicate); from a newer epoch, a new leader numbering behind its
// predecessor (conflict: the caller renumbers the record after `last_seq`).
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "net/redis.hpp"
#include "publish/history_rules.hpp"

namespace tributary {

struct published_record;

class fenced_writer {
 public:
  enum class result { written, duplicate, conflict, fenced, unavailable };
  // What became of one record of a batch.
  struct outcome {
    result res;               // written, duplicate or conflict
    uint64_t last_seq = 0;    // conflict: the topic's last written seq
    std::string why;          // conflict: what was refused
  };
  static constexpr size_t max_batch = 64;               // records per write_batch
  static constexpr size_t max_batch_bytes = 1u << 20;  // what a caller puts in one, past its first record

  // With `history` (kept by the caller), each record is also kept in its topic's history stream.
  fenced_writer(redis_client& redis, std::string name, size_t maxlen, millis ttl, const history_rules* history = nullptr);
  // `epoch` is the writer's fencing token. `error` says why when not written.
  // On conflict, `last_seq` is the topic's last written seq.
  result write(uint64_t epoch, const published_record& r, std::string* error = nullptr, uint64_t* last_seq = nullptr);
  // `recs` (at most max_batch) in order, in one round trip. `written`: `out` holds one outcome
  // per record. `fenced`: nothing was written. `unavailable`: Redis did not answer or refused
  // the script (`error` says why); a prefix of the batch may have been written, which the same
  // records sent again find as duplicates.
  result write_batch(uint64_t epoch, std::span<const published_record* const> recs, std::vector<outcome>& out,
                     std::string* error = nullptr);
  // The last seq written per topic (tributary:{name}:seqs), or why it could not be read.
  static std::variant<std::map<std::string, uint64_t>, std::string> written_seqs(redis_client& redis, const std::string& name);
  // The upstream positions written with records (tributary:{name}:offsets), or why not read.
  static std::variant<std::map<std::string, int64_t, std::less<>>, std::string> written_positions(redis_client& redis,
                                                                                                const std::string& name);
  std::string stream_key() const { return prefix_ + "stream"; }
  std::string latest_key(const std::string& topic) const { return prefix_ + "latest:" + topic; }

 private:
  void build_args(uint64_t epoch, std::span<const published_record* const> recs);
  std::variant<redis_reply, std::string> run_script();
  static outcome outcome_of(const std::string& answer, const published_record& r);

  redis_client& redis_;
  std::string prefix_;
  size_t maxlen_;
  millis ttl_;
  const history_rules* history_;
  std::string sha_;                // the script's, once loaded
  std::vector<std::string> args_;  // the last batch's command: its strings keep their room
};

}  // namespace tributary
