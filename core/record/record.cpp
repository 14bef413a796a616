#include "record/record.hpp"

#include <algorithm>
#include <cctype>
#include <shared_mutex>

#include "record/json_text.hpp"
#include "tributary/topic_segment.hpp"

namespace tributary {

using json = nlohmann::json;

void record::clear() {
  for (auto* s : {&kind, &subject, &source, &feed, &native, &data_text}) s->clear();
  ts = received = 0;
  seq = 0;
  stale = false;
  data = nullptr;
}

json record::to_json() const {
  json j = json::object();
  j["schema"] = "tributary.v1";
  j["topic"] = topic();
  j["kind"] = kind;
  j["subject"] = subject;
  j["source"] = source;
  j["feed"] = feed;
  if (!native.empty()) j["native"] = native;
  j["ts"] = ts;
  j["received"] = received;
  j["seq"] = seq;
  j["stale"] = stale;
  if (!data.is_null()) j["data"] = data;
  else if (!data_text.empty()) j["data"] = json::parse(data_text);
  else j["data"] = json::object();
  return j;
}

bool json_verbatim(std::string_view s) {
  // Without an early exit, so the compiler checks many bytes at a time (names are short and
  // nearly always plain).
  bool plain = true;
  for (char c : s) plain &= c >= 0x20 && c < 0x7F && c != '"' && c != '\\';
  return plain;
}

namespace {

// JSON text of `s` as nlohmann writes it; plain printable ASCII (the usual case) is copied as
// is, anything else goes through nlohmann's escaping.
void put_string(std::string& out, std::string_view s) {
  if (!json_verbatim(s)) {
    out.append(json(std::string(s)).dump(-1, ' ', false, json::error_handler_t::replace));
    return;
  }
  out.push_back('"');
  out.append(s);
  out.push_back('"');
}

void put_value(std::string& out, const json& v) {
  switch (v.type()) {
    case json::value_t::object: {
      out.push_back('{');
      bool first = true;
      for (auto it = v.begin(); it != v.end(); ++it) {
        if (!std::exchange(first, false)) out.push_back(',');
        put_string(out, it.key());
        out.push_back(':');
        put_value(out, *it);
      }
      out.push_back('}');
      return;
    }
    case json::value_t::array: {
      out.push_back('[');
      for (size_t i = 0; i < v.size(); ++i) {
        if (i) out.push_back(',');
        put_value(out, v[i]);
      }
      out.push_back(']');
      return;
    }
    case json::value_t::string: return put_string(out, v.get_ref<const std::string&>());
    case json::value_t::boolean: out.append(v.get<bool>() ? "true" : "false"); return;
    case json::value_t::number_integer: return put_json_integer(out, v.get<int64_t>());
    case json::value_t::number_unsigned: return put_json_integer(out, v.get<uint64_t>());
    case json::value_t::number_float: return put_json_double(out, v.get<double>());
    default: out.append("null"); return;  // null, binary, discarded
  }
}

}  // namespace

void record::write_json(std::string& out) const {
  using namespace std::string_view_literals;  // no strlen per piece
  out.clear();
  // Members in nlohmann's order (its objects are sorted by key), so the bytes equal to_json().dump().
  out.append(R"({"data":)"sv);
  if (!data.is_null()) put_value(out, data);
  else if (!data_text.empty()) out.append(data_text);
  else out.append("{}"sv);
  out.append(R"(,"feed":)"sv);
  put_string(out, feed);
  out.append(R"(,"kind":)"sv);
  put_string(out, kind);
  if (!native.empty()) {
    out.append(R"(,"native":)"sv);
    put_string(out, native);
  }
  out.append(R"(,"received":)"sv);
  put_json_integer(out, received);
  out.append(R"(,"schema":"tributary.v1","seq":)"sv);
  put_json_integer(out, seq);
  out.append(R"(,"source":)"sv);
  put_string(out, source);
  out.append(R"(,"stale":)"sv).append(stale ? "true"sv : "false"sv);
  out.append(R"(,"subject":)"sv);
  put_string(out, subject);
  out.append(R"(,"topic":)"sv);
  if (json_verbatim(kind) && json_verbatim(subject)) out.append(1, '"').append(kind).append(1, '.').append(subject).append(1, '"');
  else put_string(out, kind + "." + subject);
  out.append(R"(,"ts":)"sv);
  put_json_integer(out, ts);
  out.push_back('}');
}

std::optional<record> record::from_json(const json& j) {
  try {
    if (!j.is_object() || j.value("schema", "") != "tributary.v1") return std::nullopt;
    record r;
    r.kind = j.at("kind").get<std::string>();
    r.subject = j.at("subject").get<std::string>();
    r.source = j.value("source", "");
    r.feed = j.value("feed", "");
    r.native = j.value("native", "");
    r.ts = j.value("ts", int64_t{0});
    r.received = j.value("received", int64_t{0});
    r.seq = j.value("seq", uint64_t{0});
    r.stale = j.value("stale", false);
    r.data = j.value("data", json::object());
    return r;
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

namespace vocabulary {
namespace {

using F = field_type;
struct kind_spec {
  std::string_view name;  // compared by size first, without strlen
  std::vector<std::pair<const char*, F>> fields;
  std::vector<const char*> required;
};

const std::vector<kind_spec>& table() {
  static const std::vector<kind_spec> t = {
      {"price",
       {{"price", F::number}, {"change_24h", F::number}, {"change_24h_pct", F::number},
        {"open_24h", F::number}, {"high_24h", F::number}, {"low_24h", F::number},
        {"volume_24h", F::number}, {"quote_volume_24h", F::number}, {"market_cap", F::number},
        {"bid", F::number}, {"ask", F::number}},
       {"price"}},
      {"market",
       {{"total_market_cap", F::number}, {"total_volume_24h", F::number},
        {"market_cap_change_24h_pct", F::number}, {"btc_dominance_pct", F::number},
        {"eth_dominance_pct", F::number}, {"active_cryptocurrencies", F::number}},
       {}},
      {"indicator",
       {{"value", F::number}, {"period", F::number}, {"macd", F::number}, {"signal", F::number},
        {"histogram", F::number}},
       {"value"}},
      {"quote",
       {{"price", F::number}, {"change", F::number}, {"change_pct", F::number}, {"open", F::number},
        {"high", F::number}, {"low", F::number}, {"prev_close", F::number}},
       {"price"}},
      {"candle",
       {{"open", F::number}, {"high", F::number}, {"low", F::number}, {"close", F::number},
        {"volume", F::number}, {"open_time", F::number}, {"close_time", F::number},
        {"closed", F::boolean}},
       {}},
      {"sentiment", {{"value", F::number}, {"classification", F::string}}, {"value"}},
      {"event", {}, {}},  // free-form: data is the message's JSON object as is
  };
  return t;
}

const kind_spec* find(std::string_view kind) {
  for (const auto& k : table())
    if (kind == k.name) return &k;
  return nullptr;
}

bool is_pair(std::string_view s) {  // BASE-QUOTE, upper case
  auto dash = s.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 == s.size()) return false;
  if (s.find('-', dash + 1) != std::string_view::npos) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return c == '-' || std::isdigit(static_cast<unsigned char>(c)) ||
           std::isupper(static_cast<unsigned char>(c));
  });
}

struct registry {
  std::shared_mutex mu;
  std::map<std::string, declared_kind, std::less<>> kinds;
};
registry& declared() {
  static registry r;
  return r;
}

// Runs f(declared_kind*) under the registry's read lock; nullptr when `kind` is not declared.
template <class F>
auto with_declared(std::string_view kind, F&& f) {
  auto& r = declared();
  std::shared_lock lk(r.mu);
  auto it = r.kinds.find(kind);
  return f(it == r.kinds.end() ? nullptr : &it->second);
}

std::optional<field_type> type_named(const json& t) {
  if (t == "number") return F::number;
  if (t == "string") return F::string;
  if (t == "bool") return F::boolean;
  return std::nullopt;
}

}  // namespace

bool valid_kind_name(std::string_view n) {
  return !n.empty() && n.size() <= 32 && std::islower(static_cast<unsigned char>(n[0])) &&
         std::all_of(n.begin(), n.end(), [](unsigned char c) { return std::islower(c) || std::isdigit(c) || c == '_'; });
}

bool known_kind(std::string_view kind) {
  return find(kind) != nullptr || with_declared(kind, [](auto* k) { return k != nullptr; });
}

std::vector<std::string> kinds() {
  std::vector<std::string> r;
  for (const auto& k : table()) r.emplace_back(k.name);
  auto& d = declared();
  std::shared_lock lk(d.mu);
  for (const auto& [name, _] : d.kinds) r.push_back(name);
  return r;
}

std::variant<std::vector<declared_kind>, std::string> parse_declared_kinds(std::string_view text, const std::string& plugin) {
  std::vector<declared_kind> out;
  if (text.empty()) return out;
  auto j = json::parse(text, nullptr, false);
  if (!j.is_object()) return std::string("declared_kinds is not a JSON object");
  for (auto& [name, spec] : j.items()) {
    declared_kind k{name, {}, {}, plugin};
    if (!valid_kind_name(name)) return "declared kind '" + name + "': a kind name is a-z, 0-9 and _, starting with a letter, at most 32";
    if (!spec.is_object() || !spec.contains("fields") || !spec["fields"].is_object())
      return "declared kind '" + name + "' needs \"fields\": {\"name\": \"number|string|bool\"}";
    for (auto& [f, t] : spec["fields"].items()) {
      auto type = type_named(t);
      if (!type) return "declared kind '" + name + "', field '" + f + "': type must be number, string or bool";
      k.fields.emplace_back(f, *type);
    }
    for (auto& r : spec.value("required", json::array())) {
      if (!r.is_string() || !spec["fields"].contains(r.get<std::string>()))
        return "declared kind '" + name + "': every required field must be one of its fields";
      k.required.push_back(r.get<std::string>());
    }
    out.push_back(std::move(k));
  }
  return out;
}

std::optional<std::string> declare(const declared_kind& k) {
  if (find(k.name)) return "kind '" + k.name + "' is built in; a plugin cannot declare it";
  auto& r = declared();
  std::unique_lock lk(r.mu);
  auto [it, added] = r.kinds.try_emplace(k.name, k);
  if (added) return std::nullopt;
  auto& old = it->second;
  if (old.fields == k.fields && old.required == k.required) return std::nullopt;
  return "kind '" + k.name + "' is declared differently by plugins '" + old.declared_by + "' and '" + k.declared_by + "'";
}

std::string declared_by(std::string_view kind) {
  return with_declared(kind, [](auto* k) { return k ? k->declared_by : std::string(); });
}

std::optional<std::string> check_subject(std::string_view kind, std::string_view s) {
  if (s.empty()) return "is empty";
  if (kind == "price" && !is_pair(s)) return "a price subject is BASE-QUOTE in upper case (BTC-USDT)";
  if (kind == "market" && s != "global") return "the market subject is 'global'";
  if (kind == "candle") {
    auto dot = s.rfind('.');
    if (dot == std::string_view::npos || !is_pair(s.substr(0, dot)) || dot + 1 == s.size())
      return "a candle subject is INSTRUMENT.INTERVAL (BTC-USDT.1h)";
  }
  auto event_like = kind == "event" || !declared_by(kind).empty();
  if (event_like && (s.size() > 512 || !std::all_of(s.begin(), s.end(), [](unsigned char c) { return is_subject_char(c); })))
    return "an event subject is at most 512 characters of A-Z a-z 0-9 . _ : -";
  if (kind == "indicator" && std::count(s.begin(), s.end(), '.') != 2)
    return "an indicator subject is INSTRUMENT.NAME.INTERVAL (BTC-USDT.rsi.1d)";
  return std::nullopt;
}

std::vector<std::string> field_names(std::string_view kind) {
  std::vector<std::string> out;
  if (const auto* k = find(kind)) {
    for (const auto& [n, t] : k->fields) out.emplace_back(n);
    return out;
  }
  return with_declared(kind, [&](const declared_kind* d) {
    if (d)
      for (const auto& [n, t] : d->fields) out.push_back(n);
    return out;
  });
}

std::optional<field_type> field(std::string_view kind, std::string_view name) {
  const auto* k = find(kind);
  if (!k)
    return with_declared(kind, [&](const declared_kind* d) -> std::optional<field_type> {
      if (d)
        for (const auto& [n, t] : d->fields)
          if (n == name) return t;
      return std::nullopt;
    });
  for (const auto& [n, t] : k->fields)
    if (name == n) return t;
  if (open_fields(kind)) return F::number;
  return std::nullopt;
}

std::vector<std::string> required_fields(std::string_view kind) {
  std::vector<std::string> r;
  if (const auto* k = find(kind))
    for (const char* f : k->required) r.emplace_back(f);
  else
    with_declared(kind, [&](const declared_kind* d) {
      if (d) r = d->required;
      return 0;
    });
  return r;
}

bool open_fields(std::string_view kind) { return kind == "indicator"; }

bool free_form(std::string_view kind) { return kind == "event"; }

}  // namespace vocabulary

}  // namespace tributary
