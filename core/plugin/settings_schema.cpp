#include <algorithm>

#include "plugin/plugin.hpp"
#include "util/duration.hpp"

namespace tributary {

using json = nlohmann::json;

// ---------------------------------------------------------------- settings schema

static bool type_matches(const std::string& t, const json& v) {
  if (t == "object") return v.is_object();
  if (t == "array") return v.is_array();
  if (t == "string") return v.is_string();
  if (t == "number") return v.is_number();
  if (t == "integer") return v.is_number_integer() || v.is_number_unsigned();
  if (t == "boolean") return v.is_boolean();
  if (t == "null") return v.is_null();
  return true;
}

static void validate(const json& schema, const json& v, const std::string& path,
                     std::vector<std::pair<std::string, std::string>>& out) {
  if (!schema.is_object()) return;
  if (auto t = schema.find("type"); t != schema.end() && t->is_string() &&
                                    !type_matches(t->get<std::string>(), v)) {
    out.emplace_back(path, "must be of type " + t->get<std::string>());
    return;
  }
  if (auto e = schema.find("enum"); e != schema.end() && e->is_array() &&
                                    std::find(e->begin(), e->end(), v) == e->end()) {
    out.emplace_back(path, "must be one of " + e->dump());
  }
  if (v.is_number()) {
    if (auto m = schema.find("minimum"); m != schema.end() && v.get<double>() < m->get<double>())
      out.emplace_back(path, "must be at least " + m->dump());
    if (auto m = schema.find("maximum"); m != schema.end() && v.get<double>() > m->get<double>())
      out.emplace_back(path, "must be at most " + m->dump());
  }
  if (v.is_array())
    if (auto items = schema.find("items"); items != schema.end())
      for (size_t i = 0; i < v.size(); ++i)
        validate(*items, v[i], path + "[" + std::to_string(i) + "]", out);
  if (!v.is_object()) return;
  auto props = schema.find("properties");
  auto extra = schema.find("additionalProperties");
  std::vector<std::string> known;
  if (props != schema.end() && props->is_object())
    for (auto& [k, _] : props->items()) known.push_back(k);
  for (auto& [k, val] : v.items()) {
    std::string kp = path.empty() ? k : path + "." + k;
    if (props != schema.end() && props->contains(k)) {
      validate((*props)[k], val, kp, out);
    } else if (extra != schema.end() && extra->is_boolean() && !extra->get<bool>()) {
      std::string msg = "unknown key '" + k + "'";
      if (auto c = closest(k, known)) msg += " (did you mean '" + *c + "'?)";
      out.emplace_back(kp, msg);
    } else if (extra != schema.end() && extra->is_object()) {
      validate(*extra, val, kp, out);
    }
  }
  if (auto req = schema.find("required"); req != schema.end() && req->is_array())
    for (auto& r : *req)
      if (r.is_string() && !v.contains(r.get<std::string>()))
        out.emplace_back(path, "missing required key '" + r.get<std::string>() + "'");
}

std::vector<std::pair<std::string, std::string>> validate_settings(const json& schema, const json& value) {
  std::vector<std::pair<std::string, std::string>> out;
  validate(schema, value, "", out);
  return out;
}

}  // namespace tributary
