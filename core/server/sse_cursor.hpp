#pragma once
// Internal to server/: an SSE event id (docs/protocol.md, Server-Sent Events): the history's
// epoch and the last seq sent of every topic the stream has delivered, so that Last-Event-ID
// resumes all of them. Written "EPOCH~topic=seq,topic=seq" (topics hold none of "~=,");
// clients treat it as opaque. No I/O.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tributary {

class sse_cursor {
 public:
  static constexpr size_t max_topics = 4096;
  sse_cursor() = default;
  explicit sse_cursor(std::string epoch) : epoch_(std::move(epoch)) {}
  // nullopt when `text` is not a cursor (any bytes may come from a client).
  static std::optional<sse_cursor> parse(std::string_view text);

  const std::string& epoch() const { return epoch_; }
  std::optional<uint64_t> seq_of(std::string_view topic) const;
  void set(std::string_view topic, uint64_t seq);
  // Appends the text form to `out`.
  void write(std::string& out) const;
  size_t topics() const { return seqs_.size(); }

 private:
  std::string epoch_;
  std::vector<std::pair<std::string, uint64_t>> seqs_;  // sorted by topic
};

}  // namespace tributary
