#include "plugin/plugin_codec.hpp"

#include "plugin/backend.hpp"
#include "plugin/wire_json.hpp"

namespace tributary {

using json = nlohmann::json;

const char* name_of(wire::op o) {
  static const char* names[] = {"", "manifest", "create", "map_subject", "plan", "parse", "plan_stream", "parse_message", "destroy"};
  auto i = static_cast<size_t>(o);
  return i < std::size(names) ? names[i] : "call";
}

namespace {

int32_t level_of(const std::string& name) {
  static const char* names[] = {"trace", "debug", "info", "warn", "error"};
  for (int32_t i = 0; i < 5; ++i)
    if (name == names[i]) return i;
  return TRIB_LOG_INFO;
}

class json_form final : public plugin_codec {
 public:
  void call(const wire::call_args& c, std::string& out) override {
    json j{{"call", name_of(c.o)}, {"now", c.now}};
    switch (c.o) {
      case wire::op::create: j["settings"] = json::parse(c.a, nullptr, false); break;
      case wire::op::map_subject: j["kind"] = c.a, j["subject"] = c.b; break;
      case wire::op::parse:
        j["request"] = wire::request_json(*c.request);
        j["response"] = wire::response_json(*c.response);
        [[fallthrough]];
      case wire::op::plan:
      case wire::op::plan_stream: j["feed"] = wire::feed_json(*c.feed); break;
      case wire::op::parse_message:
        j["feed"] = wire::feed_json(*c.feed);
        j["message"] = wire::message_json(*c.message);
        break;
      default: break;
    }
    out = j.dump(-1, ' ', false, json::error_handler_t::replace);
  }

  std::optional<std::string> read(std::string_view frame, call_output& out, const trib_host_api* host, wire::answer_state& st) override {
    auto j = parse_shallow(frame);
    if (!j) return "a message nested deeper than " + std::to_string(max_depth) + " levels";
    if (!j->is_object()) return std::string("a message that is not a JSON object");
    return read(*j, out, host, st);
  }

 private:
  static constexpr int max_depth = 64;
  struct too_deep {};

  // The frame as JSON (discarded when it is not), or nullopt when it nests deeper than
  // max_depth: a hostile plugin cannot make the host build, print or free a DOM by recursion.
  static std::optional<json> parse_shallow(std::string_view frame) {
    try {
      return json::parse(frame, [](int depth, json::parse_event_t, json&) {
        if (depth > max_depth) throw too_deep{};
        return true;
      }, false);
    } catch (const too_deep&) {
      return std::nullopt;
    }
  }

  std::optional<std::string> read(const json& j, call_output& out, const trib_host_api* host, wire::answer_state& st) {
    if (!j.contains("result")) return event(j, host), std::nullopt;
    st.done = true;
    if (auto m = j.find("manifest"); m != j.end()) st.manifest_json = m->dump();
    auto read = wire::read_answer(j, out);
    if (auto* why = std::get_if<std::string>(&read)) st.malformed = *why;
    else st.status = std::get<wire::answer>(read).status, st.native = std::get<wire::answer>(read).native;
    return std::nullopt;
  }

  static void event(const json& j, const trib_host_api* host) {
    if (!host) return;
    if (auto m = j.find("log"); m != j.end() && m->is_string()) {
      const auto& text = m->get_ref<const std::string&>();
      host->log(host->host_ctx, level_of(j.value("level", "info")), {text.data(), text.size()});
    } else if (auto c = j.find("count"); c != j.end() && c->is_string()) {
      const auto& name = c->get_ref<const std::string&>();
      auto v = j.find("value");
      host->counter_add(host->host_ctx, {name.data(), name.size()}, v != j.end() && v->is_number() ? v->get<double>() : 1);
    }
  }
};

class binary_form final : public plugin_codec {
 public:
  void call(const wire::call_args& c, std::string& out) override { wire::write_call(c, out); }
  std::optional<std::string> read(std::string_view frame, call_output& out, const trib_host_api* host, wire::answer_state& st) override {
    return wire::read_answer(frame, *out.abi(), host, st);
  }
};

}  // namespace

std::unique_ptr<plugin_codec> json_codec() { return std::make_unique<json_form>(); }
std::unique_ptr<plugin_codec> binary_codec() { return std::make_unique<binary_form>(); }

}  // namespace tributary
