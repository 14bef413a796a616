#include "ingest/stream_cassette.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "ingest/upstreams/ws_upstream.hpp"
#include "util/redactor.hpp"

namespace tributary {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr std::string_view kRedacted = "REDACTED";

std::optional<stream_plan::kind> upstream_of(std::string_view name) {
  for (auto k : {stream_plan::kind::websocket, stream_plan::kind::redis_pubsub, stream_plan::kind::redis_stream, stream_plan::kind::kafka})
    if (upstream_name(k) == name) return k;
  return std::nullopt;
}

std::variant<stream_cassette::message, std::string> parse_message(const json& m, size_t i) {
  std::string at = "messages[" + std::to_string(i) + "]";
  if (!m.is_object()) return at + " is not an object";
  stream_cassette::message out;
  auto after = m.find("after_ms");
  if (after == m.end() || !after->is_number_integer() || after->get<int64_t>() < 0)
    return at + ".after_ms must be a whole number of milliseconds, 0 or more";
  out.after_ms = after->get<int64_t>();
  if (auto c = m.find("channel"); c != m.end() && c->is_string()) out.channel = c->get<std::string>();
  if (auto t = m.find("text"); t != m.end() && t->is_string()) out.text = t->get<std::string>();
  else if (auto j = m.find("json"); j != m.end()) out.text = j->dump();
  else return at + " has neither \"text\" (a string) nor \"json\"";
  if (auto k = m.find("key"); k != m.end()) {
    if (!k->is_string()) return at + ".key must be a string";
    out.key = k->get<std::string>();
  }
  if (auto h = m.find("headers"); h != m.end()) {
    if (!h->is_object()) return at + ".headers must be an object of strings";
    for (auto& [name, v] : h->items()) {
      if (!v.is_string()) return at + ".headers." + name + " must be a string";
      out.headers.emplace_back(name, v.get<std::string>());
    }
  }
  return out;
}

std::variant<stream_cassette, std::string> parse_cassette(const json& j, std::string file) {
  const json& s = j["stream"];
  if (!s.is_object()) return std::string("\"stream\" must be an object");
  stream_cassette c;
  c.file = std::move(file);
  auto up = upstream_of(s.value("upstream", ""));
  if (!up) return std::string("\"stream.upstream\" must be websocket, redis_pubsub, redis_stream or kafka");
  c.upstream = *up;
  auto target = s.find("target");
  if (target == s.end() || !target->is_string()) return std::string("\"stream.target\" must be a string");
  c.target = target->get<std::string>();
  auto msgs = s.find("messages");
  if (msgs == s.end() || !msgs->is_array()) return std::string("\"stream.messages\" must be an array");
  int64_t last = 0;
  for (size_t i = 0; i < msgs->size(); ++i) {
    auto m = parse_message((*msgs)[i], i);
    if (auto* e = std::get_if<std::string>(&m)) return *e;
    auto& msg = std::get<stream_cassette::message>(m);
    if (msg.after_ms < last) return "messages[" + std::to_string(i) + "].after_ms goes back in time";
    last = msg.after_ms;
    c.messages.push_back(std::move(msg));
  }
  return c;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::string_view upstream_name(stream_plan::kind k) {
  switch (k) {
    case stream_plan::kind::websocket: return "websocket";
    case stream_plan::kind::redis_pubsub: return "redis_pubsub";
    case stream_plan::kind::redis_stream: return "redis_stream";
    case stream_plan::kind::kafka: return "kafka";
    default: return "unknown";
  }
}

std::string stream_target(const stream_plan& plan, const redactor& secrets) {
  std::string t;
  if (plan.upstream == stream_plan::kind::websocket) {
    t = upgrade_target(plan.url).value_or(plan.url);  // the same target the live connection asks for
  } else {
    for (auto& c : plan.channels) t += (t.empty() ? "" : ",") + c;
    for (auto& p : plan.patterns) t += (t.empty() ? "pattern:" : ",pattern:") + p;
  }
  return secrets.scrub(t, kRedacted);
}

std::variant<std::vector<stream_cassette>, std::string> load_stream_cassettes(const fs::path& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
    if (it->is_regular_file() && it->path().extension() == ".json") files.push_back(it->path());
  if (ec) return dir.string() + ": " + ec.message();
  std::sort(files.begin(), files.end());
  std::vector<stream_cassette> all;
  for (const auto& f : files) {
    json j = json::parse(slurp(f), nullptr, false);
    if (!j.is_object() || !j.contains("stream")) continue;  // an HTTP cassette, or not ours to judge
    auto c = parse_cassette(j, fs::relative(f, dir).string());
    if (auto* e = std::get_if<std::string>(&c)) return f.string() + ": " + *e;
    all.push_back(std::move(std::get<stream_cassette>(c)));
  }
  return all;
}

std::variant<const stream_cassette*, std::string> find_stream_cassette(const std::vector<stream_cassette>& all, const fs::path& dir,
                                                                        const stream_plan& plan, const redactor& secrets) {
  std::string target = stream_target(plan, secrets);
  for (const auto& c : all)
    if (c.upstream == plan.upstream && c.target == target) return &c;
  return "no stream cassette for upstream " + std::string(upstream_name(plan.upstream)) + " with target \"" + target + "\" in " +
         dir.string();
}

stream_recorder::stream_recorder(fs::path dir, const std::string& feed, const std::string& source, const redactor& secrets)
    : file_(dir / (feed + "." + source + ".stream.json")), secrets_(secrets) {
  c_.file = file_.string();
}

void stream_recorder::start(const stream_plan& plan) {
  if (c_.upstream != stream_plan::kind::unknown) return;
  c_.upstream = plan.upstream;
  c_.target = stream_target(plan, secrets_);
}

void stream_recorder::add(const upstream_message& m, int64_t now_ms) {
  if (c_.messages.size() >= max_messages || bytes_ + m.payload.size() > max_bytes) return;
  bytes_ += m.payload.size();
  if (first_ms_ < 0) first_ms_ = now_ms;
  stream_cassette::message out{now_ms - first_ms_, std::string(m.channel), secrets_.scrub(std::string(m.payload), kRedacted), std::string(m.key), {}};
  for (size_t i = 0; i < m.header_count; ++i)
    out.headers.emplace_back(std::string(m.headers[i].first), secrets_.scrub(std::string(m.headers[i].second), kRedacted));
  c_.messages.push_back(std::move(out));
  dirty_ = true;
}

std::optional<std::string> stream_recorder::flush() {
  if (!dirty_) return std::nullopt;
  json msgs = json::array();
  for (auto& m : c_.messages) {
    json one{{"after_ms", m.after_ms}, {"channel", m.channel}, {"text", m.text}};
    if (!m.key.empty()) one["key"] = m.key;
    if (!m.headers.empty()) {
      one["headers"] = json::object();
      for (auto& [k, v] : m.headers) one["headers"][k] = v;
    }
    msgs.push_back(std::move(one));
  }
  json j{{"stream", {{"upstream", upstream_name(c_.upstream)}, {"target", c_.target}, {"messages", msgs}}},
         {"source", "recorded by tributary --record"}};
  std::error_code ec;
  fs::create_directories(file_.parent_path(), ec);
  auto tmp = file_;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << j.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    if (!out) return file_.string() + ": cannot write";
  }
  fs::rename(tmp, file_, ec);
  if (ec) return file_.string() + ": " + ec.message();
  dirty_ = false;
  return std::nullopt;
}

}  // namespace tributary
