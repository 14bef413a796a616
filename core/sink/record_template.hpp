#pragma once
// A name made from a record: "tributary.{kind}" over the record's kind, subject, topic, source
// and feed (the Kafka sink's topic). Characters a Kafka topic name cannot hold (anything but
// A-Z a-z 0-9 . _ -) become '_'.
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace tributary {

struct published_record;

class record_template {
 public:
  // The template, or why it is not one.
  static std::variant<record_template, std::string> compile(std::string_view text);
  // Appends the name for `r` to `out` (cleared first).
  void render(const published_record& r, std::string& out) const;

 private:
  enum class field { literal, kind, subject, topic, source, feed };
  struct part {
    field f;
    std::string text;
  };
  std::vector<part> parts_;
};

}  // namespace tributary
