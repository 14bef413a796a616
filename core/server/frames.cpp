#include "server/frames.hpp"

#include <nlohmann/json.hpp>

#include "wire/ws_frame.hpp"

namespace tributary {

namespace {
// {"type":"<type>","topic":<topic>,"record":<canonical bytes>} as one text frame, into `out`.
void frame_into(std::string& out, std::string_view type, const published_record& r) {
  constexpr std::string_view a = R"({"type":")", b = R"(","topic":)", c = R"(,"record":)";
  std::string escaped;
  // A topic needs no escaping as a rule; one that does (or is not UTF-8) is escaped properly.
  if (!json_verbatim(r.topic)) escaped = nlohmann::json(r.topic).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  size_t topic_size = escaped.empty() ? r.topic.size() + 2 : escaped.size();
  size_t size = a.size() + type.size() + b.size() + topic_size + c.size() + r.json.size() + 1;
  out.clear();
  out.reserve(size + 10);
  ws::put_header(out, ws::opcode::text, size);
  out.append(a).append(type).append(b);
  if (escaped.empty()) out.append(1, '"').append(r.topic).append(1, '"');
  else out.append(escaped);
  out.append(c).append(r.json).push_back('}');
}
}  // namespace

void update_frame(published_record& r) { frame_into(r.frame, "update", r); }

std::string json_string(std::string_view s) {
  if (json_verbatim(s)) return "\"" + std::string(s) + "\"";
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void append_centrifugo_publication(std::string& out, const published_record& r, std::string_view channel) {
  out.append(R"({"data":)").append(r.json).append(R"(,"offset":)").append(std::to_string(r.rec.seq));
  if (!channel.empty()) out.append(R"(,"channel":)").append(json_string(channel));
  out.push_back('}');
}

std::string centrifugo_push_frame(const published_record& r, std::string_view channel) {
  std::string payload = R"({"push":{"channel":)" + json_string(channel) + R"(,"pub":)";
  append_centrifugo_publication(payload, r, channel == r.topic ? std::string_view() : std::string_view(r.topic));
  payload.append("}}");
  return ws::make_frame(ws::opcode::text, payload);
}

std::string snapshot_frame(const published_record& r) {
  std::string out;
  frame_into(out, "snapshot", r);
  return out;
}

}  // namespace tributary
