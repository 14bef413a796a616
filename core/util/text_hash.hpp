#pragma once
// A transparent string hash: unordered maps keyed by std::string looked up with a string_view,
// without building a std::string per look-up.
#include <functional>
#include <string_view>

namespace tributary {

struct text_hash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

}  // namespace tributary
