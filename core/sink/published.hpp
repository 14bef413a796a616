#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "record/record.hpp"

namespace tributary {

// A record as it leaves the pipeline: serialized once, shared by every sink and session.
struct published_record {
  record rec;
  std::string topic;
  uint32_t topic_id = 0;  // dense per-process id of `topic`, given by the pipeline
  std::string json;       // the tributary.v1 object
  // The complete WebSocket text frame of {"type":"update",...}: server frames are unmasked,
  // so one encoding serves every session.
  std::shared_ptr<const std::string> ws_update;
  std::string ws_snapshot() const;  // the frame of {"type":"snapshot",...}
  // Approximate memory held, for the history's byte bound.
  size_t footprint() const { return sizeof(*this) + 2 * json.size() + ws_update->size(); }
  static std::shared_ptr<const published_record> make(record r, uint32_t topic_id = 0);
};

class record_sink {
 public:
  virtual ~record_sink() = default;
  virtual void accept(const std::shared_ptr<const published_record>& r) = 0;
};

// True when `topic` matches a subscription pattern: exact, "prefix.*" or "*".
bool topic_matches(std::string_view pattern, std::string_view topic);
// Why a pattern is malformed, or empty when it is fine.
std::string check_pattern(std::string_view pattern);

}  // namespace tributary
