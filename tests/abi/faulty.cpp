// A plugin with faults on demand, for isolation = "process": with {"crash_on_parse": N} it
// dereferences a null pointer on the Nth parse of its process's life; with {"loop_on_plan": N}
// it spins forever in its Nth plan; with {"allocate_on_plan": true} it allocates and touches
// memory until something stops it. Otherwise it serves price records from GET /faulty/price:
// {"SYMBOL": "123.45", ...}.
#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include <tributary/sdk.hpp>

#include <nlohmann/json.hpp>

namespace sdk = tributary::sdk;
using json = nlohmann::json;

static sdk::manifest faulty_manifest() {
  sdk::manifest m;
  m.name = "abi_faulty";
  m.version = "0.0.1";
  m.description = "faults on demand: crash, endless loop, unbounded allocation";
  m.kinds = {"price"};
  m.default_base_url = "http://127.0.0.1:9";
  m.default_rate_limit = {1000, 1000, 1000};
  m.settings_schema = R"({"type":"object","additionalProperties":false,"properties":{
    "crash_on_parse":{"type":"integer","minimum":0},"loop_on_plan":{"type":"integer","minimum":0},
    "allocate_on_plan":{"type":"boolean"}}})";
  return m;
}

static int parses = 0, plans = 0;  // per process: a restarted child starts again at 0

class faulty final : public sdk::plugin {
 public:
  faulty(std::string_view settings, sdk::host) {
    json s = json::parse(settings);
    crash_on_parse_ = s.value("crash_on_parse", 0);
    loop_on_plan_ = s.value("loop_on_plan", 0);
    allocate_ = s.value("allocate_on_plan", false);
  }

  sdk::result<std::string> map_subject(std::string_view, std::string_view subject) override {
    std::string native(subject);
    native.erase(std::remove(native.begin(), native.end(), '-'), native.end());
    return native;
  }

  void plan(const sdk::feed_request& feed, const sdk::output& out) override {
    if (++plans == loop_on_plan_)
      for (volatile unsigned long spin = 0;; spin = spin + 1) {}
    if (allocate_) hoard();
    sdk::http_request r;
    r.path = "/faulty/price";
    std::string symbols;
    for (auto& s : feed.subjects) symbols += (symbols.empty() ? "" : ",") + s.native;
    r.query = {{"symbols", symbols}};
    out.request(r);
  }

  void parse(const sdk::feed_request& feed, const sdk::http_request&, const sdk::http_response& resp,
             const sdk::output& out) override {
    if (++parses == crash_on_parse_) {
      volatile int* nowhere = nullptr;
      *nowhere = 1;
    }
    json body = json::parse(resp.body, nullptr, false);
    if (!body.is_object()) throw sdk::plugin_error(sdk::error_class::bad_data, "body is not a JSON object");
    for (auto& s : feed.subjects) {
      auto it = body.find(s.native);
      if (it == body.end() || !it->is_string()) continue;
      sdk::record_builder r("price", s.canonical, s.native);
      r.decimal("price", it->get<std::string>());
      out.record(r);
    }
  }

 private:
  static void hoard() {
    std::vector<std::unique_ptr<char[]>> kept;
    for (;;) {
      kept.emplace_back(new char[1 << 20]);
      std::memset(kept.back().get(), 1, 1 << 20);
    }
  }
  int crash_on_parse_ = 0, loop_on_plan_ = 0;
  bool allocate_ = false;
};

TRIBUTARY_PLUGIN(faulty, faulty_manifest)
