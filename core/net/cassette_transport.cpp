#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include "net/transport.hpp"
#include "util/clock.hpp"
#include "util/redactor.hpp"

namespace tributary {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr std::string_view kRedacted = "REDACTED";

struct cassette {
  std::string file;  // relative to the directory, for messages
  std::string method, path;
  std::map<std::string, std::string> query;
  kv_list headers;
  std::optional<json> body;
  http_response response;
};

bool iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string as_text(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

std::variant<cassette, std::string> parse_cassette(const json& j, std::string file) {
  cassette c;
  c.file = std::move(file);
  if (!j.is_object() || !j.contains("request") || !j.contains("response"))
    return "not a cassette (needs \"request\" and \"response\")";
  const json& q = j["request"];
  const json& r = j["response"];
  if (!q.is_object() || !r.is_object()) return "\"request\" and \"response\" must be objects";
  if (auto it = q.find("method"); it != q.end() && !it->is_string()) return "request.method must be a string";
  c.method = q.value("method", "GET");
  if (!q.contains("path") || !q["path"].is_string()) return "request.path is missing";
  c.path = q["path"].get<std::string>();
  if (auto it = q.find("query"); it != q.end() && it->is_object())
    for (auto& [k, v] : it->items()) c.query[k] = as_text(v);
  if (auto it = q.find("headers"); it != q.end() && it->is_object())
    for (auto& [k, v] : it->items()) c.headers.emplace_back(k, as_text(v));
  if (auto it = q.find("body"); it != q.end() && !it->is_null()) c.body = *it;
  if (auto it = r.find("error"); it != r.end() && it->is_string()) {
    c.response.status = 0;  // a scripted transport failure ("timeout")
    c.response.error = it->get<std::string>() + " (from cassette " + c.file + ")";
    return c;
  }
  if (!r.contains("status") || !r["status"].is_number_integer()) return "response.status is missing";
  auto status = r["status"].get<int64_t>();
  if (status < 100 || status > 599) return "response.status must be an HTTP status from 100 to 599";
  c.response.status = static_cast<int>(status);
  if (auto it = r.find("headers"); it != r.end() && it->is_object())
    for (auto& [k, v] : it->items()) c.response.headers.emplace_back(k, as_text(v));
  if (auto it = r.find("body"); it != r.end() && !it->is_null())
    c.response.body = it->is_string() ? it->get<std::string>() : it->dump();
  return c;
}

// JSON equality where a cassette's "REDACTED" string matches any value (secrets in bodies).
bool same_json(const json& want, const json& got) {
  if (want.is_string() && want.get_ref<const std::string&>() == kRedacted) return true;
  if (want.type() != got.type()) return want == got;  // also compares numbers across int/float
  if (want.is_object()) {
    if (want.size() != got.size()) return false;
    for (auto& [k, v] : want.items())
      if (!got.contains(k) || !same_json(v, got[k])) return false;
    return true;
  }
  if (want.is_array()) {
    if (want.size() != got.size()) return false;
    for (size_t i = 0; i < want.size(); ++i)
      if (!same_json(want[i], got[i])) return false;
    return true;
  }
  return want == got;
}

class cassette_transport final : public http_transport {
 public:
  cassette_transport(fs::path dir, std::vector<cassette> all, const clock_source& clock)
      : dir_(std::move(dir)), all_(std::move(all)), clock_(clock) {}

  void send(http_request req, callback done) override {
    std::vector<size_t> hits;
    for (size_t i = 0; i < all_.size(); ++i)
      if (matches(all_[i], req)) hits.push_back(i);
    http_response resp;
    if (hits.empty()) {
      std::string q;
      for (auto& [k, v] : req.query) q += (q.empty() ? "?" : "&") + k + "=" + v;
      resp.error = std::string(no_cassette_error) + " " + req.method + " " + req.path + q +
                   " in " + dir_.string();
    } else {
      size_t n;
      {
        std::lock_guard lk(mu_);
        std::string key;
        for (auto h : hits) key += std::to_string(h) + ",";
        n = served_[key]++;
      }
      resp = all_[hits[std::min(n, hits.size() - 1)]].response;
    }
    resp.received_ms = clock_.now_ms();
    done(std::move(resp));
  }

 private:
  static bool matches(const cassette& c, const http_request& r) {
    if (!iequal(c.method, r.method) || c.path != r.path) return false;
    if (c.query.size() != r.query.size()) return false;
    for (const auto& [k, v] : r.query) {
      auto it = c.query.find(k);
      if (it == c.query.end() || (it->second != v && it->second != kRedacted)) return false;
    }
    for (const auto& [k, v] : c.headers) {
      auto it = std::find_if(r.headers.begin(), r.headers.end(), [&](auto& h) { return iequal(h.first, k); });
      if (it == r.headers.end() || (it->second != v && v != kRedacted)) return false;
    }
    if (c.body) {
      json b = json::parse(r.body, nullptr, false);
      if (b.is_discarded()) b = json(r.body);
      if (!same_json(*c.body, b)) return false;
    }
    return true;
  }

  fs::path dir_;
  std::vector<cassette> all_;
  const clock_source& clock_;
  std::mutex mu_;
  std::map<std::string, size_t> served_;
};

// Where recordings go; every secret value becomes REDACTED.
class recording_transport final : public http_transport {
 public:
  recording_transport(std::unique_ptr<http_transport> inner, fs::path dir, const redactor& secrets)
      : inner_(std::move(inner)), dir_(std::move(dir)), secrets_(secrets) {
    fs::create_directories(dir_);
  }

  void send(http_request req, callback done) override {
    inner_->send(req, [this, req, done = std::move(done)](http_response resp) {
      write(req, resp);
      done(std::move(resp));
    });
  }

 private:
  std::string scrub(const std::string& v) const { return secrets_.scrub(v, kRedacted); }

  void write(const http_request& req, const http_response& resp) {
    json q = json::object(), h = json::object(), rh = json::object();
    for (auto& [k, v] : req.query) q[k] = scrub(v);
    for (auto& [k, v] : req.headers) h[k] = scrub(v);
    for (auto& [k, v] : resp.headers)
      if (!iequal(k, "content-encoding") && !iequal(k, "content-length") && !iequal(k, "transfer-encoding"))
        rh[k] = scrub(v);
    json request{{"method", req.method}, {"path", req.path}, {"query", q}, {"headers", h}, {"body", nullptr}};
    if (!req.body.empty()) {
      json b = json::parse(scrub(req.body), nullptr, false);
      request["body"] = b.is_discarded() ? json(scrub(req.body)) : b;
    }
    json response;
    if (resp.status == 0) {
      response = {{"error", scrub(resp.error)}};
    } else {
      json b = json::parse(scrub(resp.body), nullptr, false);
      response = {{"status", resp.status}, {"headers", rh}, {"body", b.is_discarded() ? json(scrub(resp.body)) : b}};
    }
    json cas{{"request", request}, {"response", response}, {"source", "recorded by tributary --record"}, {"notes", ""}};
    std::string name = req.path;
    std::replace_if(name.begin(), name.end(), [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); }, '_');
    char prefix[16];
    std::snprintf(prefix, sizeof prefix, "%04zu", counter_.fetch_add(1) + 1);
    std::ofstream(dir_ / (std::string(prefix) + "-" + req.method + name + ".json")) << cas.dump(2) << "\n";
  }

  std::unique_ptr<http_transport> inner_;
  fs::path dir_;
  const redactor& secrets_;
  std::atomic<size_t> counter_{0};
};

}  // namespace

std::variant<std::unique_ptr<http_transport>, std::string> make_cassette_transport(const fs::path& dir,
                                                                                   const clock_source& clock) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return "cassette directory " + dir.string() + " does not exist";
  std::vector<fs::path> files;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec))
    if (it->is_regular_file() && it->path().extension() == ".json") files.push_back(it->path());
  std::sort(files.begin(), files.end(), [&](const fs::path& a, const fs::path& b) {
    return a.filename() != b.filename() ? a.filename() < b.filename() : a < b;
  });
  std::vector<cassette> all;
  for (const auto& f : files) {
    std::ifstream in(f);
    std::stringstream ss;
    ss << in.rdbuf();
    json j = json::parse(ss.str(), nullptr, false);
    std::string rel = fs::relative(f, dir).string();
    if (j.is_discarded()) return f.string() + ": not valid JSON";
    if (j.is_object() && j.contains("stream")) continue;  // a stream cassette (schedule/stream_cassette)
    auto c = parse_cassette(j, rel);
    if (auto* err = std::get_if<std::string>(&c)) return f.string() + ": " + *err;
    all.push_back(std::move(std::get<cassette>(c)));
  }
  return std::unique_ptr<http_transport>(std::make_unique<cassette_transport>(dir, std::move(all), clock));
}

std::unique_ptr<http_transport> make_recording_transport(std::unique_ptr<http_transport> inner, const fs::path& dir,
                                                         const redactor& secrets) {
  return std::make_unique<recording_transport>(std::move(inner), dir, secrets);
}

}  // namespace tributary
