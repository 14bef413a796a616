// Emits records that break the schema: an unknown kind, unknown fields, a wrong type, a record
// without its required field and one for a subject nobody asked for. The host must drop exactly
// the bad parts and report each.
#include <tributary/sdk.hpp>

namespace sdk = tributary::sdk;

static sdk::manifest bad_manifest() {
  sdk::manifest m;
  m.name = "abi_bad_records";
  m.version = "0.0.1";
  m.kinds = {"price"};
  m.default_base_url = "http://127.0.0.1:9";
  return m;
}

class bad_records final : public sdk::plugin {
 public:
  bad_records(std::string_view, sdk::host) {}
  sdk::result<std::string> map_subject(std::string_view, std::string_view s) override { return std::string(s); }
  void plan(const sdk::feed_request&, const sdk::output& out) override {
    sdk::http_request r;
    r.path = "/bad";
    out.request(r);
  }
  void parse(const sdk::feed_request& f, const sdk::http_request&, const sdk::http_response&, const sdk::output& out) override {
    const auto& s = f.subjects.at(0).canonical;
    out.record(sdk::record_builder("weather", s).number("price", 1));                      // unknown kind
    out.record(sdk::record_builder("price", s).number("price", 2).number("colour", 7)      // unknown field
                   .text("bid", "cheap"));                                                 // wrong type
    out.record(sdk::record_builder("price", s).number("volume_24h", 10));                  // no price
    out.record(sdk::record_builder("price", "DOGE-USDT").number("price", 3));               // not asked for
  }
};

TRIBUTARY_PLUGIN(bad_records, bad_manifest)
