#include "sink/record_template.hpp"

#include <cctype>

#include "publish/published.hpp"

namespace tributary {

namespace {
constexpr std::pair<std::string_view, int> kFields[] = {{"kind", 1}, {"subject", 2}, {"topic", 3}, {"source", 4}, {"feed", 5}};

void append_clean(std::string& out, std::string_view s) {
  for (unsigned char c : s) out += std::isalnum(c) || c == '.' || c == '_' || c == '-' ? static_cast<char>(c) : '_';
}
}  // namespace

std::variant<record_template, std::string> record_template::compile(std::string_view text) {
  record_template t;
  std::string lit;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '}') return "a '}' with no '{' at offset " + std::to_string(i);
    if (text[i] != '{') {
      lit += text[i];
      continue;
    }
    auto end = text.find('}', i);
    if (end == std::string_view::npos) return "'{' at offset " + std::to_string(i) + " is not closed";
    auto name = text.substr(i + 1, end - i - 1);
    int f = 0;
    for (auto& [n, id] : kFields)
      if (n == name) f = id;
    if (!f) return "'{" + std::string(name) + "}' is not one of {kind} {subject} {topic} {source} {feed}";
    if (!lit.empty()) t.parts_.push_back({field::literal, std::move(lit)});
    lit.clear();
    t.parts_.push_back({static_cast<field>(f), {}});
    i = end;
  }
  if (!lit.empty()) t.parts_.push_back({field::literal, std::move(lit)});
  if (t.parts_.empty()) return std::string("it is empty");
  return t;
}

void record_template::render(const published_record& r, std::string& out) const {
  out.clear();
  for (const auto& p : parts_) switch (p.f) {
      case field::literal: append_clean(out, p.text); break;
      case field::kind: append_clean(out, r.rec.kind); break;
      case field::subject: append_clean(out, r.rec.subject); break;
      case field::topic: append_clean(out, r.topic); break;
      case field::source: append_clean(out, r.rec.source); break;
      case field::feed: append_clean(out, r.rec.feed); break;
    }
  if (out.size() > 249) out.resize(249);  // Kafka's limit
}

}  // namespace tributary
