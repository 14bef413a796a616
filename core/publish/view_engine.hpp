#pragma once
// Views (docs/protocol.md, Views): flat objects assembled from fields of several topics, made into
// records of kind `view` (topic `view.<name>`). Delivery shows the engine every publication on
// this node; where records are numbered (standalone, or the cluster leader) the view records the
// engine returns are published like any other, so followers get them through the stream with
// the leader's seq.
#include <string>
#include <unordered_map>
#include <vector>

#include "config/config.hpp"
#include "record/record.hpp"
#include "util/text_hash.hpp"

namespace tributary {

class view_engine {
 public:
  explicit view_engine(std::vector<view_config> views);
  // Takes note of `r`. Returns the view records it changes (to be numbered and published).
  std::vector<record> on_record(const record& r);
  // Whether on_record needs the data of `topic` (an input, or one of these views).
  bool reads(std::string_view topic) const;

  static constexpr const char* kind = "view";

 private:
  struct input {
    nlohmann::json data;
    bool stale = false;
    int64_t received = 0;
    uint64_t seq = 0;
  };
  struct view_state {
    view_config cfg;
    nlohmann::json last;  // the last published object without updated_at; null before the first
  };
  std::optional<record> compose(view_state& v) const;

  std::vector<view_state> views_;
  std::unordered_map<std::string, std::vector<size_t>, text_hash, std::equal_to<>> readers_;  // input topic -> views reading it
  std::unordered_map<std::string, input> inputs_;
};

}  // namespace tributary
