#include "util/redactor.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace tributary {

namespace {

std::string url_encoded(std::string_view s, bool upper, bool plus_for_space) {
  const char* hex = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else if (c == ' ' && plus_for_space) {
      out += '+';
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string json_escaped(std::string_view s) {
  auto quoted = nlohmann::json(std::string(s)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return quoted.substr(1, quoted.size() - 2);
}

}  // namespace

void redactor::add_form(std::string form) {
  if (std::find(forms_.begin(), forms_.end(), form) == forms_.end()) forms_.push_back(std::move(form));
}

bool redactor::add(std::string secret) {
  if (secret.size() < min_length) return false;
  std::lock_guard lk(mu_);
  if (std::find(secrets_.begin(), secrets_.end(), secret) != secrets_.end()) return true;
  add_form(secret);
  add_form(url_encoded(secret, true, false));
  add_form(url_encoded(secret, false, false));
  add_form(url_encoded(secret, true, true));
  add_form(json_escaped(secret));
  secrets_.push_back(std::move(secret));
  // Longest first, so a secret that contains another is masked whole.
  std::sort(forms_.begin(), forms_.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
  return true;
}

std::string redactor::scrub(std::string_view text, std::string_view replacement) const {
  std::string out(text);
  std::lock_guard lk(mu_);
  for (const auto& s : forms_) {
    for (size_t pos = out.find(s); pos != std::string::npos; pos = out.find(s, pos + replacement.size()))
      out.replace(pos, s.size(), replacement);
  }
  return out;
}

void redactor::scrub_json(nlohmann::json& j) const {
  if (j.is_string()) {
    j = scrub(j.get_ref<const std::string&>());
  } else if (j.is_array()) {
    for (auto& v : j) scrub_json(v);
  } else if (j.is_object()) {
    nlohmann::json out = nlohmann::json::object();
    for (auto& [k, v] : j.items()) {
      scrub_json(v);
      out[scrub(k)] = std::move(v);
    }
    j = std::move(out);
  }
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
