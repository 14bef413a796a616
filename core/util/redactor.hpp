#pragma once
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace tributary {

// Knows every secret value of a deployment and masks it in any text that leaves the process
// (logs, errors, status pages, recorded cassettes), in the forms it travels in: as is,
// URL-encoded (a provider may echo a query parameter back) and JSON-escaped. Thread-safe.
class redactor {
 public:
  static constexpr std::string_view mask = "***";
  // Shorter secrets cannot be masked without garbling ordinary text: config rejects them.
  static constexpr size_t min_length = 4;
  // False (and nothing added) when the secret is shorter than min_length.
  bool add(std::string secret);
  std::string scrub(std::string_view text, std::string_view replacement = mask) const;
  // Masks every string (and key) inside `j` before it is serialized.
  void scrub_json(nlohmann::json& j) const;
  bool is_secret(std::string_view value) const;
  bool empty() const;

 private:
  void add_form(std::string form);
  mutable std::mutex mu_;
  std::vector<std::string> secrets_;  // as configured
  std::vector<std::string> forms_;    // every form to mask, longest first
};

}  // namespace tributary
