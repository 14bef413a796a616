// Topic-segment encoding: how any identifier (a JWT `sub`, a message's user id, a Kafka key)
// becomes one segment of a topic, and back. Header-only, C++17, no dependencies, so the host and
// every plugin (in tree or not, any compiler) encode the same id the same way.
//
//   A-Z a-z 0-9 _ -   stay as they are
//   every other byte   ':' and two upper-case hex digits (':' itself is ":3A", '.' is ":2E")
//
//   "42" -> "42"    "alice@example.com" -> "alice:40example:2Ecom"    "auth0|64f1c2" -> "auth0:7C64f1c2"
//
// The result never holds a '.', so `user.<encoded>.orders` names exactly one user. Decoding
// accepts only what encoding produces (upper-case hex, no escaped safe byte), so each id has
// exactly one spelling and comparing encoded ids compares ids.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tributary {

namespace topic_segment_detail {
inline bool is_safe(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}
inline int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;  // lower case is not canonical
}
}  // namespace topic_segment_detail

// A byte an event subject may hold: A-Z a-z 0-9 . _ : - (an encoded segment's bytes, and the
// dots between segments). Not std::isalnum: no locale, and no call per byte.
inline bool is_subject_char(unsigned char c) { return topic_segment_detail::is_safe(c) || c == '.' || c == ':'; }

// Appends the encoding of `id` to `out`.
inline void encode_topic_segment(std::string_view id, std::string& out) {
  static constexpr char digits[] = "0123456789ABCDEF";
  for (unsigned char c : id) {
    if (topic_segment_detail::is_safe(c)) {
      out += static_cast<char>(c);
      continue;
    }
    out += ':';
    out += digits[c >> 4];
    out += digits[c & 0xF];
  }
}

inline std::string encode_topic_segment(std::string_view id) {
  std::string out;
  out.reserve(id.size());
  encode_topic_segment(id, out);
  return out;
}

// The id a segment encodes; nullopt when `segment` is not something encode_topic_segment returns.
inline std::optional<std::string> decode_topic_segment(std::string_view segment) {
  std::string out;
  out.reserve(segment.size());
  for (size_t i = 0; i < segment.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(segment[i]);
    if (topic_segment_detail::is_safe(c)) {
      out += static_cast<char>(c);
      continue;
    }
    if (c != ':' || i + 2 >= segment.size()) return std::nullopt;
    int hi = topic_segment_detail::hex_value(segment[i + 1]), lo = topic_segment_detail::hex_value(segment[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    unsigned char byte = static_cast<unsigned char>(hi * 16 + lo);
    if (topic_segment_detail::is_safe(byte)) return std::nullopt;
    out += static_cast<char>(byte);
    i += 2;
  }
  return out;
}

}  // namespace tributary
