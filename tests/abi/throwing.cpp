// Throws from every hook; with {"throw_in_create": true} from its constructor too. The SDK's
// trampolines must turn each into an error, and the host must carry on.
#include <stdexcept>
#include <string>

#include <tributary/sdk.hpp>

namespace sdk = tributary::sdk;

static sdk::manifest throwing_manifest() {
  sdk::manifest m;
  m.name = "abi_throwing";
  m.version = "0.0.1";
  m.kinds = {"price"};
  m.default_base_url = "http://127.0.0.1:9";
  m.settings_schema = R"({"type":"object","properties":{"throw_in_create":{"type":"boolean"}}})";
  return m;
}

class throwing final : public sdk::plugin {
 public:
  throwing(std::string_view settings, sdk::host) {
    if (settings.find("true") != std::string_view::npos) throw std::runtime_error("constructor exploded");
  }
  sdk::result<std::string> map_subject(std::string_view, std::string_view) override {
    throw std::runtime_error("map_subject exploded");
  }
  void plan(const sdk::feed_request&, const sdk::output&) override { throw std::logic_error("plan exploded"); }
  void parse(const sdk::feed_request&, const sdk::http_request&, const sdk::http_response&, const sdk::output&) override {
    throw 42;  // not even a std::exception
  }
};

TRIBUTARY_PLUGIN(throwing, throwing_manifest)
