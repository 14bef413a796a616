#pragma once
// The files the server serves itself: the dashboard page at `/` and the JavaScript client at
// `/tributary.js`. They are compiled into the binary (generated assets.cpp), so the page needs
// nothing from outside.
#include <optional>
#include <string_view>

namespace tributary {

struct asset {
  std::string_view body;
  const char* type;  // Content-Type
};

std::optional<asset> find_asset(std::string_view path);

}  // namespace tributary
