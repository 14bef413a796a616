#pragma once
// Numbers written into JSON text as nlohmann writes them, without building a value: shared by
// the record's canonical writer (record.cpp) and the canonical form of pushed data
// (canonical_json.cpp), whose bytes must equal nlohmann's dump.
#include <charconv>
#include <cmath>
#include <string>

#include <nlohmann/json.hpp>

namespace tributary {

template <class T>
void put_json_integer(std::string& out, T v) {
  char buf[24];
  out.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}

// Shortest round-trip form (nlohmann's to_chars: "1.0", "1e+16"); null when not finite.
inline void put_json_double(std::string& out, double d) {
  if (!std::isfinite(d)) {
    out.append("null");
    return;
  }
  char buf[64];
  out.append(buf, nlohmann::detail::to_chars(buf, buf + sizeof buf, d));
}

}  // namespace tributary
