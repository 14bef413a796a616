#pragma once
#include <memory>
#include <string>

#include "record/record.hpp"

namespace tributary {

// A record as it leaves the pipeline: serialized once, shared by every sink and session.
struct published_record {
  record rec;
  std::string topic;
  std::string json;                                 // the tributary.v1 object
  std::shared_ptr<const std::string> update_frame;  // {"type":"update",...} for WebSocket
  std::string snapshot_frame() const;               // {"type":"snapshot",...}
  static std::shared_ptr<const published_record> make(record r);
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
