#include "util/redactor.hpp"

#include <algorithm>

namespace tributary {

void redactor::add(std::string secret) {
  if (secret.size() < 3) return;  // masking "a" everywhere would only garble text
  std::lock_guard lk(mu_);
  if (std::find(secrets_.begin(), secrets_.end(), secret) != secrets_.end()) return;
  secrets_.push_back(std::move(secret));
  // Longest first, so a secret that contains another is masked whole.
  std::sort(secrets_.begin(), secrets_.end(),
            [](const auto& a, const auto& b) { return a.size() > b.size(); });
}

std::string redactor::scrub(std::string_view text, std::string_view replacement) const {
  std::string out(text);
  std::lock_guard lk(mu_);
  for (const auto& s : secrets_) {
    for (size_t pos = out.find(s); pos != std::string::npos; pos = out.find(s, pos + replacement.size()))
      out.replace(pos, s.size(), replacement);
  }
  return out;
}

bool redactor::is_secret(std::string_view value) const {
  std::lock_guard lk(mu_);
  return std::find(secrets_.begin(), secrets_.end(), value) != secrets_.end();
}

bool redactor::empty() const {
  std::lock_guard lk(mu_);
  return secrets_.empty();
}

}  // namespace tributary
