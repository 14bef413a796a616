#pragma once
// The standalone broker: a record is numbered and delivered in process, under one lock, so seq
// order is delivery order. A view record made while delivering (the handler publishes again on
// the same thread) is numbered and delivered right after the record that changed the view.
#include <mutex>

#include "publish/broker.hpp"
#include "publish/topic_state.hpp"

namespace tributary {

class memory_broker final : public broker {
 public:
  explicit memory_broker(frame_maker frames = nullptr) : frames_(frames) {}
  void on_publication(handler h) override { handler_ = std::move(h); }
  using broker::publish;
  std::shared_ptr<const published_record> publish(std::shared_ptr<published_record> p, const upstream_position& at = {}) override;
  std::variant<position_map, std::string> positions(std::string_view prefix) override;
  std::shared_ptr<const published_record> mark_stale(const std::string& topic) override;
  bool publishing() const override { return true; }
  bool has(const std::string& topic) override;
  // Numbering of `topic` continues after `seq`: what a stream written before a restart holds.
  void continue_after(std::string_view topic, uint64_t seq);

 private:
  std::shared_ptr<const published_record> publish_locked(std::shared_ptr<published_record> p, const upstream_position& at = {});

  frame_maker frames_;
  handler handler_;
  std::recursive_mutex mu_;  // recursive: the handler's views publish on the delivering thread
  topic_table topics_;
  position_map positions_;  // delivered is published for good here
};

}  // namespace tributary
