#pragma once
// Internal to server/: permessage-deflate with context takeover, shared. Sessions on one I/O
// thread that subscribe to the same patterns as the same user, speak the same protocol and
// allow context takeover receive the same records in the same order; a chain compresses that
// sequence once, each record referring back to the ones before it, and every session that
// received exactly the chain's frames since its last reset can be sent the next one. A record
// costs one deflate per chain however many sessions share it, and a message of a few hundred
// bytes shrinks to a fraction of what it does on its own (docs/benchmarks.md).
//
// Whether a frame fits a session is decided when it is written (chain_sync, in queue order), not
// when it is queued: conflation may still drop a queued update. A session that missed a frame,
// or was sent any other compressed message, takes each record's self-contained compressed frame
// until the chain's next reset, which it asks for. Lives on its I/O thread; no lock.
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "publish/published.hpp"
#include "server/send_queue.hpp"
#include "wire/ws_deflate.hpp"

namespace tributary {

// One record's frame in a chain: it inflates for a client whose decompressor saw exactly the
// chain's frames [last reset, index). Sessions hold it as a frame_ref whose block it is.
struct chained_frame : frame_block {
  using frame_block::frame_block;
  std::string bytes;
  uint64_t chain = 0;  // serial of the chain (never reused on the thread)
  uint64_t index = 0;  // position in the chain
  bool reset = false;  // refers to nothing before it: fits any session
};

class deflate_chain : public std::enable_shared_from_this<deflate_chain> {
 public:
  deflate_chain(uint64_t serial, std::string key);
  ~deflate_chain();
  // What the sessions sharing it have in common (deflate_chains::join).
  const std::string& key() const { return key_; }
  // The frame of `r`, whose uncompressed frame is `plain`, in this chain: made when `r` is not
  // the record compressed last. Empty when the chain has fewer than two sessions (each then
  // takes the self-contained frame), when `plain` is not the frame the chain compressed for `r`
  // (another protocol's or a session's own), or when compression failed.
  frame_ref frame_for(const std::shared_ptr<const published_record>& r, const frame_ref& plain);
  // A session can no longer follow (it missed a frame, or joined): the next record is compressed
  // on its own, unless the last reset was under kMinResetGap records ago (then a later one is).
  void want_reset() { reset_wanted_ = true; }
  size_t sessions() const { return static_cast<size_t>(weak_from_this().use_count()); }

  static constexpr int kWindowBits = 13;  // 8 KiB back: a few dozen messages of a few hundred bytes
  static constexpr int kMemLevel = 6;     // ~64 KiB of zlib state per chain
  static constexpr uint64_t kMinResetGap = 8;
  static constexpr size_t kKeepBytes = 64 * 1024;  // a recycled frame keeps at most this much room

 private:
  chained_frame* spare();

  ws::deflate_stream z_;
  uint64_t serial_;
  std::string key_;
  uint64_t next_ = 0;         // index of the next frame
  uint64_t since_reset_ = 0;  // frames since the last reset
  bool reset_wanted_ = true;
  bool paused_ = false;  // under two sessions at the last record: the next one resets
  std::shared_ptr<const published_record> last_record_;
  frame_ref last_plain_;
  frame_ref last_;
  // Frames are recycled once no session holds them: a steady chain makes no allocation. One
  // still queued when the chain ends deletes itself when its last session lets it go.
  std::array<std::unique_ptr<chained_frame>, 64> pool_;
  size_t pool_next_ = 0;
};

// The chains of one I/O thread, by the key of the sessions that share them.
class deflate_chains {
 public:
  // The chain for `key` (made when none); nullptr once kMaxChains are in use.
  std::shared_ptr<deflate_chain> join(const std::string& key);
  size_t size() const { return by_key_.size(); }
  static constexpr size_t kMaxChains = 256;

 private:
  void prune();
  std::unordered_map<std::string, std::weak_ptr<deflate_chain>> by_key_;
  uint64_t serial_ = 0;
};

// What a session's client has decompressed so far, as far as the chains are concerned; advanced
// in the order frames are written.
class chain_sync {
 public:
  // `f` is the next frame to be written: it becomes its chain frame when that follows what the
  // client inflated so far (or resets), else it stays as queued (plain, or compressed on its
  // own, which puts the session out of step). `current` is the session's chain, told to reset
  // when the session cannot follow.
  // True when `f` is now its chain frame.
  bool settle(out_frame& f, deflate_chain* current);
  bool following() const { return following_; }

 private:
  bool choose(const chained_frame& f, deflate_chain* current);

  uint64_t chain_ = 0, next_ = 0;
  bool following_ = false;
};

}  // namespace tributary
