#include "sink/metrics.hpp"

#include <cmath>
#include <sstream>

namespace tributary {

static std::string escape(const std::string& v) {
  std::string o;
  for (char c : v) {
    if (c == '\\' || c == '"') o += '\\';
    if (c == '\n') { o += "\\n"; continue; }
    o += c;
  }
  return o;
}

std::string metrics::key(const labels& l) {
  std::string k;
  for (const auto& [n, v] : l) k += (k.empty() ? "" : ",") + n + "=\"" + escape(v) + "\"";
  return k;
}

void metrics::describe(const std::string& name, const std::string& type, const std::string& help) {
  std::lock_guard lk(mu_);
  meta_[name] = {type, help};
  series_[name];
}

void metrics::add(const std::string& name, const labels& l, double v) {
  std::lock_guard lk(mu_);
  series_[name][key(l)] += v;
}

void metrics::set(const std::string& name, const labels& l, double v) {
  std::lock_guard lk(mu_);
  series_[name][key(l)] = v;
}

double metrics::value(const std::string& name, const labels& l) const {
  std::lock_guard lk(mu_);
  auto it = series_.find(name);
  if (it == series_.end()) return 0;
  auto s = it->second.find(key(l));
  return s == it->second.end() ? 0 : s->second;
}

std::string metrics::render() const {
  std::lock_guard lk(mu_);
  std::ostringstream o;
  o.precision(17);
  for (const auto& [name, series] : series_) {
    auto m = meta_.find(name);
    if (m != meta_.end()) {
      o << "# HELP " << name << ' ' << m->second.second << '\n';
      o << "# TYPE " << name << ' ' << m->second.first << '\n';
    }
    for (const auto& [k, v] : series) {
      o << name;
      if (!k.empty()) o << '{' << k << '}';
      o << ' ' << v << '\n';
    }
  }
  return o.str();
}

}  // namespace tributary
