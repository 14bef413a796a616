#pragma once
// Stream cassettes: the messages of a streaming source's upstream with their relative timing,
// recorded by `--record DIR` and played back by `--replay DIR` (see docs/cassettes.md):
//
//   {"stream": {"upstream": "websocket", "target": "/stream?streams=btcusdt@ticker",
//               "messages": [{"after_ms": 0, "channel": "websocket", "text": "{...}"},
//                            {"after_ms": 1000, "json": {...}}]},
//    "source": "...", "notes": "..."}
//
// A cassette matches a plan when the upstream kind and the target are equal: a WebSocket URL's
// path and query, or a Redis upstream's channels, patterns or stream keys. Secret values are
// stored, and matched, as REDACTED.
#include <filesystem>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "plugin/plugin.hpp"

namespace tributary {

class redactor;

struct stream_cassette {
  struct message {
    int64_t after_ms = 0;  // since the first message
    std::string channel, text;
    std::string key;                                           // kafka: the message key
    std::vector<std::pair<std::string, std::string>> headers;  // kafka: its headers
  };
  std::string file;  // relative to the directory searched
  stream_plan::kind upstream = stream_plan::kind::unknown;
  std::string target;
  std::vector<message> messages;
};

// What a cassette must name to match `plan`, its secrets as REDACTED.
std::string stream_target(const stream_plan& plan, const redactor& secrets);
std::string_view upstream_name(stream_plan::kind k);

// Every stream cassette under `dir` (recursively; files holding a "stream" object), or what is
// wrong with the first bad one (file and reason).
std::variant<std::vector<stream_cassette>, std::string> load_stream_cassettes(const std::filesystem::path& dir);

// The cassette for `plan`, or an error naming the upstream, the target and the directory.
std::variant<const stream_cassette*, std::string> find_stream_cassette(const std::vector<stream_cassette>& all,
                                                                        const std::filesystem::path& dir,
                                                                        const stream_plan& plan, const redactor& secrets);

// Writes what one stream feed receives into DIR/<feed>.<source>.stream.json: rewritten by
// flush(); the first messages are kept, up to `max_messages` and `max_bytes` of text.
class stream_recorder {
 public:
  stream_recorder(std::filesystem::path dir, const std::string& feed, const std::string& source, const redactor& secrets);
  void start(const stream_plan& plan);  // the first plan names the cassette's upstream and target
  void add(const upstream_message& m, int64_t now_ms);
  // Writes the file if anything came since the last flush; an error says why it could not.
  std::optional<std::string> flush();
  static constexpr size_t max_messages = 10000;
  static constexpr size_t max_bytes = 64 << 20;  // an upstream of 1 MiB messages fills it with 64

 private:
  std::filesystem::path file_;
  const redactor& secrets_;
  stream_cassette c_;
  int64_t first_ms_ = -1;
  size_t bytes_ = 0;
  bool dirty_ = false;
};

}  // namespace tributary
