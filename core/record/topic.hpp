#pragma once
// The topic grammar (docs/protocol.md, Topics): a topic is `<kind>.<subject>`; a subscription
// pattern is a topic, `prefix.*` or `*`.
#include <string>
#include <string_view>

namespace tributary {

// True when `topic` matches a subscription pattern: exact, "prefix.*" or "*".
bool topic_matches(std::string_view pattern, std::string_view topic);
// Why a pattern is malformed, or empty when it is fine.
std::string check_pattern(std::string_view pattern);

}  // namespace tributary
