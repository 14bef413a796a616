// The loader against deliberately broken plugins (tests/abi) and the real binance plugin.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <tributary/abi.h>

#include "plugin/plugin.hpp"

using namespace tributary;
using ::testing::HasSubstr;

namespace {

const std::string kHostAbi = std::to_string(TRIB_ABI_MAJOR) + "." + std::to_string(TRIB_ABI_MINOR);

std::filesystem::path abi_plugin(const std::string& name) {
  return std::filesystem::path(TRIBUTARY_ABI_PLUGIN_DIR) / ("libabi_" + name + ".so");
}

std::string load_error(const std::filesystem::path& p) {
  auto r = plugin_library::load(p);
  auto* e = std::get_if<std::string>(&r);
  return e ? *e : std::string("(loaded)");
}

std::shared_ptr<plugin_library> load_ok(const std::filesystem::path& p) {
  auto r = plugin_library::load(p);
  if (auto* e = std::get_if<std::string>(&r)) ADD_FAILURE() << *e;
  return std::get<std::shared_ptr<plugin_library>>(r);
}

}  // namespace

TEST(PluginAbi, RefusesLibraryWithoutEntrySymbol) {
  EXPECT_THAT(load_error(abi_plugin("no_entry")), HasSubstr("not a Tributary plugin: no entry symbol `tributary_plugin_entry`"));
}

TEST(PluginAbi, RefusesOtherMajorNamingBothVersions) {
  EXPECT_THAT(load_error(abi_plugin("newer_major")), HasSubstr("plugin ABI 2.0 is incompatible with host ABI " + kHostAbi + " (major versions differ)"));
}

TEST(PluginAbi, RefusesNewerMinorNamingBothVersions) {
  EXPECT_THAT(load_error(abi_plugin("newer_minor")), HasSubstr("plugin ABI 1." + std::to_string(TRIB_ABI_MINOR + 99) + " is newer than host ABI " + kHostAbi));
}

TEST(PluginAbi, RefusesTruncatedDescriptor) {
  EXPECT_THAT(load_error(abi_plugin("old_descriptor")), HasSubstr("descriptor is too small"));
}

TEST(PluginAbi, MissingFileIsAClearError) {
  EXPECT_THAT(load_error("/nonexistent/libnothing.so"), HasSubstr("/nonexistent/libnothing.so: cannot load"));
}

TEST(PluginAbi, ExceptionsStopAtTheWaist) {
  auto lib = load_ok(abi_plugin("throwing"));
  auto bad = plugin_instance::create(lib, "t", {{"throw_in_create", true}}, {});
  ASSERT_TRUE(std::holds_alternative<fetch_error>(bad));
  EXPECT_THAT(std::get<fetch_error>(bad).message, HasSubstr("constructor exploded"));

  auto made = plugin_instance::create(lib, "t", nlohmann::json::object(), {});
  ASSERT_TRUE(std::holds_alternative<std::unique_ptr<plugin_instance>>(made));
  auto& inst = *std::get<std::unique_ptr<plugin_instance>>(made);
  auto m = inst.map_subject("price", "BTC-USDT");
  ASSERT_TRUE(std::holds_alternative<fetch_error>(m));
  EXPECT_EQ(std::get<fetch_error>(m).cls, error_class::internal);
  EXPECT_THAT(std::get<fetch_error>(m).message, HasSubstr("map_subject exploded"));

  feed_request f{"spot", "price", {{"BTC-USDT", "BTC-USDT"}}};
  auto planned = inst.plan(f);
  EXPECT_NE(planned.status, 0);
  ASSERT_FALSE(planned.errors.empty());
  EXPECT_THAT(planned.errors[0].message, HasSubstr("plan exploded"));

  auto parsed = inst.parse(f, http_request{}, http_response{200, {}, "{}", 0, ""});
  ASSERT_FALSE(parsed.errors.empty());
  EXPECT_THAT(parsed.errors[0].message, HasSubstr("non-standard exception"));
  EXPECT_TRUE(parsed.records.empty());
}

TEST(PluginAbi, RecordsOutsideTheSchemaAreDroppedAndReported) {
  auto lib = load_ok(abi_plugin("bad_records"));
  auto made = plugin_instance::create(lib, "b", nlohmann::json::object(), {});
  ASSERT_TRUE(std::holds_alternative<std::unique_ptr<plugin_instance>>(made));
  auto& inst = *std::get<std::unique_ptr<plugin_instance>>(made);
  feed_request f{"spot", "price", {{"BTC-USDT", "BTC-USDT"}}};
  auto r = inst.parse(f, http_request{}, http_response{200, {}, "{}", 0, ""});
  ASSERT_EQ(r.records.size(), 1u);
  EXPECT_EQ(r.records[0].data, (nlohmann::json{{"price", 2}}));  // colour and the string bid dropped
  std::string all;
  for (auto& p : r.problems) all += p + "\n";
  EXPECT_THAT(all, HasSubstr("record of unknown kind 'weather' dropped"));
  EXPECT_THAT(all, HasSubstr("field 'colour' is not in the price vocabulary; dropped"));
  EXPECT_THAT(all, HasSubstr("field 'bid' must be a number; dropped"));
  EXPECT_THAT(all, HasSubstr("lacks required field 'price'"));
  EXPECT_THAT(all, HasSubstr("record price.DOGE-USDT was not asked for; dropped"));
}

TEST(PluginAbi, BinanceManifestIsReadThroughTheWaist) {
  auto lib = load_ok(std::filesystem::path(TRIBUTARY_PLUGIN_DIR) / "libbinance.so");
  const auto& m = lib->manifest();
  EXPECT_EQ(m.name, "binance");
  EXPECT_EQ(m.kinds, (std::vector<std::string>{"price", "candle"}));
  EXPECT_EQ(m.default_rate_limit.requests, 6000);
  EXPECT_EQ(m.default_rate_limit.per, millis(60000));
  EXPECT_EQ(m.abi_major, 1u);
  EXPECT_TRUE(m.settings_schema.contains("properties"));
  auto made = plugin_instance::create(lib, "binance", {{"symbols", {{"BTC-USD", "BTCUSDC"}}}}, {});
  ASSERT_TRUE(std::holds_alternative<std::unique_ptr<plugin_instance>>(made));
  auto& inst = *std::get<std::unique_ptr<plugin_instance>>(made);
  EXPECT_EQ(std::get<std::string>(inst.map_subject("price", "ETH-USDT")), "ETHUSDT");
  EXPECT_EQ(std::get<std::string>(inst.map_subject("price", "BTC-USD")), "BTCUSDC");  // config override
  EXPECT_EQ(std::get<std::string>(inst.map_subject("candle", "BTC-USDT.4h")), "BTCUSDT");
  EXPECT_TRUE(std::holds_alternative<fetch_error>(inst.map_subject("candle", "BTC-USDT.7h")));
  auto planned = inst.plan({"spot", "price", {{"BTC-USDT", "BTCUSDT"}, {"ETH-USDT", "ETHUSDT"}}});
  ASSERT_EQ(planned.requests.size(), 1u);
  EXPECT_EQ(planned.requests[0].path, "/api/v3/ticker/24hr");
  EXPECT_EQ(planned.requests[0].query.at(0).second, R"(["BTCUSDT","ETHUSDT"])");
  EXPECT_EQ(planned.requests[0].weight, 2);
}

TEST(PluginSettings, SchemaSubset) {
  auto schema = nlohmann::json::parse(R"({"type":"object","properties":{"n":{"type":"integer","minimum":1},
    "mode":{"enum":["a","b"]}},"required":["n"],"additionalProperties":false})");
  EXPECT_TRUE(validate_settings(schema, {{"n", 3}, {"mode", "a"}}).empty());
  auto errs = validate_settings(schema, {{"n", 0}, {"mode", "c"}, {"moda", 1}});
  ASSERT_EQ(errs.size(), 3u);
  std::map<std::string, std::string> by_key(errs.begin(), errs.end());
  EXPECT_THAT(by_key["moda"], HasSubstr("unknown key 'moda' (did you mean 'mode'?)"));
  EXPECT_THAT(by_key["mode"], HasSubstr("must be one of"));
  EXPECT_THAT(by_key["n"], HasSubstr("must be at least 1"));
  EXPECT_EQ(validate_settings(schema, nlohmann::json::object())[0].second, "missing required key 'n'");
}

TEST(PluginAbi, APluginBuiltAgainstAbi10KeepsLoading) {
  auto lib = load_ok(abi_plugin("v1_0"));
  ASSERT_TRUE(lib);
  const auto& mf = lib->manifest();
  EXPECT_EQ(mf.abi_major, 1u);
  EXPECT_EQ(mf.abi_minor, 0u);
  EXPECT_EQ(mf.name, "fear_greed");
  EXPECT_TRUE(mf.budget_header.name.empty());  // a 1.1 member its manifest does not have
  EXPECT_EQ(mf.to_json()["abi"], "1.0");
}

TEST(PluginAbi, Abi11ManifestsNameTheirBudgetHeader) {
  auto lib = load_ok(std::filesystem::path(TRIBUTARY_PLUGIN_DIR) / "libbinance.so");
  ASSERT_TRUE(lib);
  EXPECT_EQ(lib->manifest().abi_minor, uint32_t{TRIB_ABI_MINOR});  // built against this SDK
  EXPECT_EQ(lib->manifest().budget_header.name, "X-MBX-USED-WEIGHT-1M");
  EXPECT_TRUE(lib->manifest().budget_header.counts_used);
}
