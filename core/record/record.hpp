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
  nlohmann::json data = nlohmann::json::object();

  std::string topic() const { return kind + "." + subject; }
  nlohmann::json to_json() const;
  static std::optional<record> from_json(const nlohmann::json& j);
};

namespace vocabulary {

enum class field_type { number, string, boolean };

bool known_kind(std::string_view kind);
std::vector<std::string> kinds();
// Why a canonical subject is malformed for its kind, or nullopt when it is fine.
std::optional<std::string> check_subject(std::string_view kind, std::string_view subject);
// The type of a field of `kind`, or nullopt when it is outside the vocabulary.
std::optional<field_type> field(std::string_view kind, std::string_view name);
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

// Per-topic sequence numbers: each new record of a topic gets the previous number plus one.
class sequencer {
 public:
  uint64_t next(const std::string& topic);
  void seed(const std::string& topic, uint64_t last);  // continue after `last` (never goes back)
  void reset(const std::string& topic, uint64_t last);  // continue after `last`, even if lower
  uint64_t current(const std::string& topic);          // last number given, 0 if none

 private:
  std::mutex mu_;
  std::map<std::string, uint64_t> last_;
};

}  // namespace tributary
