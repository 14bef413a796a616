#pragma once
// A WebSocket client's permessage-deflate decompressor (RFC 7692) that keeps its window from one
// message to the next, as a browser's does when the server did not agree to
// server_no_context_takeover: what the server's deflate chains must inflate in.
#include <zlib.h>

#include <optional>
#include <string>
#include <string_view>

namespace tributary::test_support {

class context_inflater {
 public:
  context_inflater() { ok_ = inflateInit2(&z_, -15) == Z_OK; }
  ~context_inflater() {
    if (ok_) inflateEnd(&z_);
  }
  context_inflater(const context_inflater&) = delete;
  context_inflater& operator=(const context_inflater&) = delete;

  // One compressed message's payload, inflated after every message before it; nullopt when it
  // does not inflate (then the stream is broken for good).
  std::optional<std::string> inflate(std::string_view payload) {
    if (!ok_) return std::nullopt;
    std::string in(payload);
    in.append("\x00\x00\xff\xff", 4);
    z_.next_in = reinterpret_cast<Bytef*>(in.data());
    z_.avail_in = static_cast<uInt>(in.size());
    std::string out;
    char chunk[4096];
    int rc = Z_OK;
    do {
      z_.next_out = reinterpret_cast<Bytef*>(chunk);
      z_.avail_out = sizeof chunk;
      rc = ::inflate(&z_, Z_SYNC_FLUSH);
      if (rc != Z_OK && rc != Z_BUF_ERROR) return ok_ = false, std::nullopt;
      out.append(chunk, sizeof chunk - z_.avail_out);
    } while (rc == Z_OK && (z_.avail_in > 0 || z_.avail_out == 0));
    if (z_.avail_in != 0) return ok_ = false, std::nullopt;
    return out;
  }

 private:
  z_stream z_{};
  bool ok_ = false;
};

}  // namespace tributary::test_support
