#pragma once
// The binary form of the plugin protocol, spoken between the host and `tributary plugin-host`
// (the same binary on the same machine, so native byte order and sizes). A frame (frame_io)
// starts with binary_magic. The host writes one call; plugin-host answers with a sequence of
// items that mirror the C ABI's emit calls and ends with a result item; log and count items
// may come first, each in a frame of its own. No DOM either way: calls decode into the ABI's
// structs pointing into the frame, and answers are replayed into a trib_output, so the host
// checks what an isolated plugin emits with the very code that checks a library in process.
// Measured against the JSON form in docs/benchmarks.md.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tributary/abi.h>

namespace tributary::wire {

constexpr char binary_magic = 0x01;

enum class op : uint8_t { manifest = 1, create, map_subject, plan, parse, plan_stream, parse_message, destroy };
enum class item : uint8_t { result = 0, request, record, error, stream, native, log, count, manifest };

// One call, as the host makes it. `a` and `b`: create's settings JSON; map_subject's kind and
// subject.
struct call_args {
  op o = op::manifest;
  int64_t now = 0;
  const trib_feed_request* feed = nullptr;
  const trib_http_request* request = nullptr;
  const trib_http_response* response = nullptr;
  const trib_stream_message* message = nullptr;
  std::string_view a, b;
};
void write_call(const call_args& c, std::string& out);

// A call as plugin-host reads it: the structs point into the frame and into the vectors here.
struct read_call_result {
  call_args args;
  std::vector<trib_subject> subjects;
  std::vector<trib_kv> query, headers, response_headers, message_headers;
  trib_feed_request feed{};
  trib_http_request request{};
  trib_http_response response{};
  trib_stream_message message{};
};
// Why the frame is not a well-formed call, or nullopt.
std::optional<std::string> read_call(std::string_view frame, read_call_result& r);

// plugin-host's side of an answer: items appended as the plugin emits them.
class answer_writer {
 public:
  void begin() { buf_.assign(1, binary_magic); }
  void request(const trib_http_request& q);
  void record(const trib_record& r);
  void error(const trib_error& e);
  void stream(const trib_stream_plan& p);
  void native(std::string_view s);
  void manifest(std::string_view json_text);
  const std::string& finish(int32_t status);  // appends the result item
  static std::string log(int32_t level, std::string_view text);
  static std::string count(std::string_view name, double value);

 private:
  std::string buf_;
};

// The host's side: one frame from plugin-host. Log and count items go to `host`; the others
// are replayed into `out` once the whole frame has been checked.
struct answer_state {
  bool done = false;  // the result item was read
  int32_t status = TRIB_OK;
  std::string native, manifest_json;
  std::string malformed;  // JSON only: why an answer's shape is wrong
};
std::optional<std::string> read_answer(std::string_view frame, const trib_output& out, const trib_host_api* host, answer_state& st);

}  // namespace tributary::wire
