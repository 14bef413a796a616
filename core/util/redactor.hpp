#pragma once
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace tributary {

// Knows every secret value of a deployment and masks it in any text that leaves the process
// (logs, errors, status pages, recorded cassettes). Thread-safe.
class redactor {
 public:
  static constexpr std::string_view mask = "***";
  void add(std::string secret);
  std::string scrub(std::string_view text, std::string_view replacement = mask) const;
  bool is_secret(std::string_view value) const;
  bool empty() const;

 private:
  mutable std::mutex mu_;
  std::vector<std::string> secrets_;
};

}  // namespace tributary
