#pragma once
// A JSON object's canonical text (what nlohmann's dump() of it writes: members sorted by key,
// the last of duplicate keys kept, no spaces, numbers and strings written as nlohmann writes
// them) made straight from the text, without a DOM: simdjson's tape, one parser and scratch per
// thread. For the data of free-form records (`event`), which a push source sends as text.
#include <string>
#include <string_view>

namespace tributary {

enum class canonical_status {
  ok,
  not_object,   // valid JSON, but not an object
  unsupported,  // not read here (invalid JSON, an integer past 64 bits, nesting past 1,024):
                // the caller reads it with nlohmann, which says what is wrong or takes it
};

// The canonical text of the object `text` into `out` (cleared first; keeps its room).
canonical_status canonical_object(std::string_view text, std::string& out);

}  // namespace tributary
