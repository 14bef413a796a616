#pragma once
// The tributary.v1 record (docs/protocol.md, Record kinds) and the field vocabulary the host enforces.
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <variant>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace tributary {

struct record {
  std::string kind;
  std::string subject;
  std::string source;
  std::string feed;
  std::string native;
  int64_t ts = 0;
  int64_t received = 0;
  uint64_t seq = 0;
  bool stale = false;
  // The kind's fields. Null (no allocation) until set; written as {} when still null. A record
  // read back from its bytes leaves it null until someone needs it (record_bytes.hpp).
  nlohmann::json data;
  // Or the data as its canonical JSON text, when it came as text (a free-form record from a
  // push source: canonical_json.hpp): written as it is, `data` left null.
  std::string data_text;

  std::string topic() const { return kind + "." + subject; }
  // Back to a default record, keeping the strings' storage (a reused record).
  void clear();
  nlohmann::json to_json() const;
  // The canonical JSON bytes (the same as to_json().dump()), written into `out` in place: no
  // DOM copy, and no allocation when `out` already has the room.
  void write_json(std::string& out) const;
  static std::optional<record> from_json(const nlohmann::json& j);
};

// Whether `s` is written in JSON exactly as it is: printable ASCII, no quote, no backslash (the
// usual topic or name). Anything else goes through nlohmann's escaping, which also replaces
// bytes that are not UTF-8.
bool json_verbatim(std::string_view s);

namespace vocabulary {

enum class field_type { number, string, boolean };

bool known_kind(std::string_view kind);
std::vector<std::string> kinds();
// Why a canonical subject is malformed for its kind, or nullopt when it is fine.
std::optional<std::string> check_subject(std::string_view kind, std::string_view subject);
// The type of a field of `kind`, or nullopt when it is outside the vocabulary.
std::optional<field_type> field(std::string_view kind, std::string_view name);
// The names of the fields of `kind` (built-in or declared); empty for an unknown kind.
std::vector<std::string> field_names(std::string_view kind);
// The fields a record of `kind` must carry.
std::vector<std::string> required_fields(std::string_view kind);
// Multi-valued indicators may add named fields beyond the table.
bool open_fields(std::string_view kind);
// A kind a plugin declares in its manifest (ABI 1.1): validated like the built-in ones.
struct declared_kind {
  std::string name;
  std::vector<std::pair<std::string, field_type>> fields;
  std::vector<std::string> required;
  std::string declared_by;  // the plugin
};
// A name a kind may have: a-z, 0-9 and _, starting with a letter, at most 32 characters.
bool valid_kind_name(std::string_view name);
// Parses a manifest's declared_kinds JSON ({"kind": {"fields": {"f": "number"|"string"|"bool"},
// "required": [...]}}). Each problem names the kind and what is wrong.
std::variant<std::vector<declared_kind>, std::string> parse_declared_kinds(std::string_view json_text, const std::string& plugin);
// Adds a declared kind for this process. Declaring the same kind again identically is fine; a
// different definition, or a built-in name, is an error naming both plugins.
std::optional<std::string> declare(const declared_kind& k);
// The plugin that declared `kind`, or empty for built-in or unknown kinds.
std::string declared_by(std::string_view kind);

// Kinds whose data is a free-form JSON object (`event`), carried as is.
bool free_form(std::string_view kind);
inline constexpr size_t max_free_form_bytes = 64 * 1024;

}  // namespace vocabulary

}  // namespace tributary
