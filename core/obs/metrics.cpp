#include "obs/metrics.hpp"

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

metrics::counter& metrics::counter_for(const std::string& name, const labels& l) {
  std::lock_guard lk(mu_);
  auto& c = counters_[name][key(l)];
  if (!c) c = std::make_unique<counter>();
  return *c;
}

int metrics::add_collector(collector c) {
  std::lock_guard lk(mu_);
  collectors_[next_collector_] = std::move(c);
  return next_collector_++;
}

void metrics::remove_collector(int id) {
  std::lock_guard lk(mu_);
  collectors_.erase(id);
}

// The series with every collector's samples added in. Called with mu_ held.
std::map<std::string, std::map<std::string, double>> metrics::snapshot() const {
  auto all = series_;
  std::vector<sample> samples;
  for (const auto& [_, c] : collectors_) c(samples);
  for (const auto& s : samples) all[s.name][key(s.l)] += s.v;
  for (const auto& [name, series] : counters_)
    for (const auto& [k, c] : series) all[name][k] += c->value();
  return all;
}

double metrics::value(const std::string& name, const labels& l) const {
  std::lock_guard lk(mu_);
  auto all = snapshot();
  auto it = all.find(name);
  if (it == all.end()) return 0;
  auto s = it->second.find(key(l));
  return s == it->second.end() ? 0 : s->second;
}

std::string metrics::render() const {
  std::lock_guard lk(mu_);
  auto all = snapshot();
  std::ostringstream o;
  o.precision(17);
  for (const auto& [name, series] : all) {
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
