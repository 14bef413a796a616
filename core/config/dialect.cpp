#include "config/dialect.hpp"

#include <algorithm>
#include <cctype>

#include <nlohmann/json.hpp>

namespace tributary {

namespace {

constexpr std::pair<std::string_view, placeholder> kNames[] = {
    {"id", placeholder::id},           {"now", placeholder::now},       {"channel", placeholder::channel},
    {"user", placeholder::user},       {"error", placeholder::error},   {"auth_timeout", placeholder::auth_timeout},
    {"topic", placeholder::topic},     {"subject", placeholder::subject}, {"seq", placeholder::seq},
    {"data", placeholder::data},       {"record", placeholder::record},
};

// A placeholder's name at `at` (just after '{'): letters, digits, '_' and '.', closed by '}'.
std::optional<std::string_view> name_at(std::string_view text, size_t at) {
  size_t end = at;
  while (end < text.size() && (std::isalnum(static_cast<unsigned char>(text[end])) || text[end] == '_' || text[end] == '.')) ++end;
  if (end == at || end >= text.size() || text[end] != '}' || !std::isalpha(static_cast<unsigned char>(text[at]))) return std::nullopt;
  return text.substr(at, end - at);
}

// A sample JSON value of each placeholder, to check that a filled-in template is JSON.
void sample(placeholder p, std::string& out) {
  switch (p) {
    case placeholder::now:
    case placeholder::seq:
    case placeholder::auth_timeout: out += "1"; return;
    case placeholder::data:
    case placeholder::record: out += R"({"a":1})"; return;
    default: out += R"("x")"; return;
  }
}

}  // namespace

std::optional<message_template> message_template::compile(std::string_view text, std::string& why) {
  message_template t;
  part cur;
  bool in_string = false, escaped = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {  // a placeholder's braces inside a JSON string are text
      cur.text += c;
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    auto name = c == '{' ? name_at(text, i + 1) : std::nullopt;
    if (!name) {
      cur.text += c;
      continue;
    }
    if (name->rfind("data.", 0) == 0 && name->size() > 5) {
      cur.value = placeholder::data_field;
      cur.field = std::string(name->substr(5));
    } else {
      auto known = std::find_if(std::begin(kNames), std::end(kNames), [&](auto& n) { return n.first == *name; });
      if (known == std::end(kNames)) {
        why = "unknown placeholder {" + std::string(*name) +
              "} (id, now, channel, user, error, auth_timeout, topic, subject, seq, data, data.<field>, record)";
        return std::nullopt;
      }
      cur.value = known->second;
    }
    t.parts_.push_back(std::move(cur));
    cur = part{};
    i += name->size() + 1;
  }
  if (!cur.text.empty()) t.parts_.push_back(std::move(cur));
  std::string filled;
  t.render(filled, [](placeholder p, const std::string&, std::string& out) { sample(p, out); });
  if (nlohmann::json::parse(filled, nullptr, false).is_discarded()) {
    why = "is not JSON once its placeholders are filled in: " + filled.substr(0, 120);
    return std::nullopt;
  }
  return t;
}

bool message_template::uses(placeholder p) const {
  return std::any_of(parts_.begin(), parts_.end(), [p](const part& x) { return x.value == p; });
}

}  // namespace tributary
