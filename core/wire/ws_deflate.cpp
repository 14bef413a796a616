#include "wire/ws_deflate.hpp"

#include <zlib.h>

#include <vector>

#include "wire/ws_frame.hpp"

namespace tributary::ws {

namespace {

constexpr int kWindowBits = 15;
constexpr std::string_view kAnswer = "permessage-deflate; client_no_context_takeover";
constexpr std::string_view kAnswerNoContext = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// One offer: "permessage-deflate; param[=value]; ...". Acceptable when every parameter is known,
// none repeats, and the window we compress with (15 bits) is allowed; then whether the server
// may keep its context (the offer has no server_no_context_takeover).
std::optional<bool> acceptable(std::string_view offer) {
  auto semi = offer.find(';');
  if (trim(offer.substr(0, semi)) != "permessage-deflate") return std::nullopt;
  bool context = true;
  std::vector<std::string_view> seen;
  while (semi != std::string_view::npos) {
    offer.remove_prefix(semi + 1);
    semi = offer.find(';');
    auto param = trim(offer.substr(0, semi));
    auto eq = param.find('=');
    auto name = trim(param.substr(0, eq));
    auto value = eq == std::string_view::npos ? std::string_view{} : trim(param.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    for (auto s : seen)
      if (s == name) return std::nullopt;
    seen.push_back(name);
    if (name == "server_no_context_takeover" || name == "client_no_context_takeover") {
      if (!value.empty()) return std::nullopt;
      if (name == "server_no_context_takeover") context = false;
    } else if (name == "server_max_window_bits") {
      if (value != "15") return std::nullopt;  // a smaller window than the shared frames use
    } else if (name == "client_max_window_bits") {  // any: we inflate with the largest window
      int bits = 0;
      for (char c : value) bits = c >= '0' && c <= '9' && bits < 100 ? bits * 10 + (c - '0') : 1000;
      if (!value.empty() && (bits < 8 || bits > 15)) return std::nullopt;
    } else {
      return std::nullopt;
    }
  }
  return context;
}

struct thread_inflater {
  z_stream z{};
  bool ok;
  thread_inflater() { ok = inflateInit2(&z, -kWindowBits) == Z_OK; }
  ~thread_inflater() { if (ok) inflateEnd(&z); }
};

}  // namespace

std::optional<deflate_agreement> negotiate_deflate(std::string_view offers, bool context) {
  while (!offers.empty()) {
    auto comma = offers.find(',');
    if (auto allowed = acceptable(offers.substr(0, comma))) {
      bool keep = *allowed && context;
      return deflate_agreement{std::string(keep ? kAnswer : kAnswerNoContext), keep};
    }
    if (comma == std::string_view::npos) break;
    offers.remove_prefix(comma + 1);
  }
  return std::nullopt;
}

deflate_stream::~deflate_stream() {
  if (ok_) deflateEnd(&z_);
}

bool deflate_stream::compress(std::string_view payload, bool reset, std::string& frame) {
  if (!started_) {
    started_ = true;
    ok_ = deflateInit2(&z_, Z_BEST_SPEED, Z_DEFLATED, -window_bits_, mem_level_, Z_DEFAULT_STRATEGY) == Z_OK;
  } else if (ok_ && reset && deflateReset(&z_) != Z_OK) {
    return false;
  }
  if (!ok_) return false;
  // Room for the whole message in one call: deflateBound plus the sync flush's empty block.
  body_.resize(deflateBound(&z_, payload.size()) + 16);
  z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(payload.data()));
  z_.avail_in = static_cast<uInt>(payload.size());
  z_.next_out = reinterpret_cast<Bytef*>(body_.data());
  z_.avail_out = static_cast<uInt>(body_.size());
  if (deflate(&z_, Z_SYNC_FLUSH) != Z_OK || z_.avail_in != 0 || z_.avail_out == 0) return false;
  size_t n = body_.size() - z_.avail_out;
  if (n < 4) return false;
  n -= 4;  // RFC 7692 7.2.1: the 00 00 ff ff of the sync flush is not sent
  frame.clear();
  put_header(frame, opcode::text, n);
  frame[0] = static_cast<char>(frame[0] | 0x40);  // RSV1: compressed
  frame.append(body_.data(), n);
  return true;
}

std::optional<std::string> make_deflated_frame(std::string_view payload) {
  thread_local deflate_stream d(kWindowBits, 8);
  std::string frame;
  if (!d.compress(payload, true, frame)) return std::nullopt;
  return frame;
}

inflate_result inflate_message(std::string_view in, size_t max, std::string& out) {
  thread_local thread_inflater f;
  if (!f.ok || inflateReset(&f.z) != Z_OK) return inflate_result::corrupt;
  static constexpr unsigned char tail[4] = {0x00, 0x00, 0xff, 0xff};
  out.clear();
  char chunk[16384];
  for (int part = 0; part < 2; ++part) {
    f.z.next_in = part == 0 ? reinterpret_cast<Bytef*>(const_cast<char*>(in.data())) : const_cast<Bytef*>(tail);
    f.z.avail_in = part == 0 ? static_cast<uInt>(in.size()) : 4;
    do {
      f.z.next_out = reinterpret_cast<Bytef*>(chunk);
      f.z.avail_out = sizeof chunk;
      int rc = inflate(&f.z, Z_SYNC_FLUSH);
      if (rc != Z_OK && rc != Z_BUF_ERROR && rc != Z_STREAM_END) return inflate_result::corrupt;
      out.append(chunk, sizeof chunk - f.z.avail_out);
      if (out.size() > max) return inflate_result::too_big;
      if (rc == Z_BUF_ERROR && f.z.avail_in == 0) break;
      if (rc == Z_STREAM_END) break;
    } while (f.z.avail_in > 0 || f.z.avail_out == 0);
  }
  return inflate_result::ok;
}

}  // namespace tributary::ws
