#pragma once
// A publication: a record with its position (seq, epoch), serialized once and shared by the
// cache, the history, the stream and every session.
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "record/record.hpp"

namespace tributary {

struct published_record;

// Writes the one frame every session is sent for a publication into `frame` (the server's:
// docs/protocol.md, "update"). The broker calls it once per record, before the record is
// shared, so the publish path never knows the client protocol.
using frame_maker = void (*)(published_record&);

// The encodings of a publication made beside `frame` on demand (see variant_of).
enum class frame_variant : uint8_t { deflated, centrifugo, centrifugo_deflated, count_ };

struct published_record {
  record rec;
  std::string topic;
  uint32_t topic_id = 0;  // dense id of `topic` in the broker's topic table
  uint32_t table = 0;     // that table's serial (topic_table::serial()); 0: made outside a broker
  uint64_t epoch = 0;     // of the stream that numbered it (0: standalone)
  std::string json;       // the tributary.v1 object, canonical bytes
  std::string frame;      // made by the frame_maker; empty when there is none (no server: `fetch`)
  // Where in its upstream the message it came from was (a Kafka partition's offset), so that
  // the stream write stores it with the record: empty / -1 when none.
  std::string position_key;
  int64_t position = -1;
  // Other encodings of the publication some sessions want (the server's permessage-deflate
  // frame, another client protocol's frame), each made on first use by whichever thread asks
  // first; see variant_of.
  struct variant_slot {
    std::atomic<uint8_t> state{0};  // 0 not made, 1 being made, 2 made
    std::string bytes;              // empty when made: the caller's plain frame serves
  };
  mutable std::array<variant_slot, static_cast<size_t>(frame_variant::count_)> variants;
  // Declared client protocols' frames (server dialects), by a slot number the server gives each
  // of their channel rules (the first half plain, the second compressed): a table made on first
  // use and kept while the record is recycled.
  static constexpr size_t dialect_slots = 16;
  struct dialect_table {
    std::array<variant_slot, dialect_slots> slots;
  };
  mutable std::atomic<dialect_table*> dialect_frames{nullptr};

  published_record() = default;
  published_record(const published_record&) = delete;
  published_record& operator=(const published_record&) = delete;
  ~published_record() { delete dialect_frames.load(std::memory_order_acquire); }

  // Variant `v`, made by `make(r)` once; nullptr when `make` gave nothing. Valid while the
  // record is (sessions keep it alive). Lock-free but for a thread that comes while another is
  // making it: that one waits for it.
  template <class F>
  static const std::string* variant(const published_record& r, frame_variant v, F&& make) {
    return made_in(r, r.variants[static_cast<size_t>(v)], std::forward<F>(make));
  }
  // The same for dialect slot `slot` (< dialect_slots).
  template <class F>
  static const std::string* dialect_frame(const published_record& r, size_t slot, F&& make) {
    auto* t = r.dialect_frames.load(std::memory_order_acquire);
    if (!t) {
      auto* mine = new dialect_table;
      if (r.dialect_frames.compare_exchange_strong(t, mine, std::memory_order_acq_rel)) t = mine;
      else delete mine;  // another thread made it first: `t` is that one
    }
    return made_in(r, t->slots[slot], std::forward<F>(make));
  }

 private:
  template <class F>
  static const std::string* made_in(const published_record& r, variant_slot& slot, F&& make) {
    if (slot.state.load(std::memory_order_acquire) != 2) {
      uint8_t none = 0;
      if (slot.state.compare_exchange_strong(none, 1, std::memory_order_acq_rel)) {
        slot.bytes = make(r);
        slot.state.store(2, std::memory_order_release);
      } else {
        while (slot.state.load(std::memory_order_acquire) != 2) std::this_thread::yield();
      }
    }
    return slot.bytes.empty() ? nullptr : &slot.bytes;
  }

 public:
  // Approximate memory held, for the history's byte bound: fixed once published (the variants
  // are counted as one more frame, so that adding and removing a record count the same whether
  // any was made between the two or not).
  size_t footprint() const { return sizeof(*this) + 2 * json.size() + 2 * frame.size(); }

  // An empty record from the pool. Records are recycled, not freed: their strings keep their
  // capacity, so the next one of about the same size is written in without an allocation.
  static std::shared_ptr<published_record> acquire();
  // A copy of `r` in a pooled record with its topic set, to be numbered and sealed; its strings
  // are written into the pooled record's own storage (no allocation once it has grown).
  static std::shared_ptr<published_record> wrap(const record& r);
  // The same, but a data DOM is moved rather than copied. `r` keeps its strings: a caller that
  // reuses its records (a stream feed's call result) keeps their room.
  static std::shared_ptr<published_record> wrap(record&& r);
  // Serializes the record into `json` and makes its frame, in place.
  void seal(frame_maker frames);
  // `r` numbered as it is, serialized, framed.
  static std::shared_ptr<const published_record> make(record r, uint32_t topic_id = 0, frame_maker frames = nullptr,
                                                      uint64_t epoch = 0);
  // Sets `topic` from the record's kind and subject (in place).
  void set_topic();
};

// Something that takes every publication in position order (cache, hub, a stream copy).
class record_sink {
 public:
  virtual ~record_sink() = default;
  virtual void accept(const std::shared_ptr<const published_record>& r) = 0;
};

}  // namespace tributary
