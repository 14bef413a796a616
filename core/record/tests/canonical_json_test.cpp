#include "record/canonical_json.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include <nlohmann/json.hpp>

namespace tributary {
namespace {

// What the record's bytes held before: nlohmann's dump of its parse.
std::string nlohmann_canonical(const std::string& text) { return nlohmann::json::parse(text).dump(); }

void expect_same_as_nlohmann(const std::string& text) {
  std::string out = "left over";
  ASSERT_EQ(canonical_object(text, out), canonical_status::ok) << text;
  EXPECT_EQ(out, nlohmann_canonical(text)) << text;
}

TEST(CanonicalJson, WritesWhatNlohmannWritesForEveryKindOfValue) {
  for (std::string text : {
           R"({})",
           R"({"task_id":"t-1","status":"done","progress":100,"user":"7"})",
           R"({ "b" : 1 , "a" : [ 1 , 2.50 , -3 , true , false , null , {} , [] ] })",
           R"({"b":1,"a":2,"b":3})",                                // the last of a duplicate key counts
           R"({"o":{"z":{"y":1,"x":2,"y":3},"a":[{"d":1,"c":2}]}})",  // nested objects sorted too
           R"({"n":[0,-0,-0.0,1.0,1e2,1E-7,1.5e-7,1e15,1e16,123.456e5,0.0001,-2.5e-300,1.7976931348623157e308]})",
           R"({"i":[9223372036854775807,-9223372036854775808,18446744073709551615,9223372036854775808]})",
           R"({"s":"\u00e9\/\"\\\b\f\n\r\t\u0001\u001f\u007f\ud83d\ude00 é 😀"})",
           R"({"\u0000k":"a\u0000b","é":1,"e":2,"E":3,"":4})",   // keys escaped and sorted by their bytes
       })
    expect_same_as_nlohmann(text);
}

TEST(CanonicalJson, SaysWhatItDoesNotTake) {
  std::string out;
  EXPECT_EQ(canonical_object("[1,2]", out), canonical_status::not_object);
  EXPECT_EQ(canonical_object("\"text\"", out), canonical_status::not_object);
  EXPECT_EQ(canonical_object("", out), canonical_status::unsupported);
  EXPECT_EQ(canonical_object("{\"a\":", out), canonical_status::unsupported);
  EXPECT_EQ(canonical_object("{\"a\":1}x", out), canonical_status::unsupported);
  EXPECT_EQ(canonical_object("{\"a\":\"\xff\"}", out), canonical_status::unsupported);  // not UTF-8
  EXPECT_EQ(canonical_object("{\"a\":123456789012345678901234567890}", out), canonical_status::unsupported);
  EXPECT_EQ(canonical_object("{\"a\":" + std::string(2000, '[') + std::string(2000, ']') + "}", out), canonical_status::unsupported);
  ASSERT_EQ(canonical_object("{\"a\":1}", out), canonical_status::ok);  // the parser is fine after all of that
  EXPECT_EQ(out, "{\"a\":1}");
}

// Random objects (strings with escapes and UTF-8, every number form, nesting, duplicate keys):
// the same bytes as nlohmann's, every time.
std::string random_value(std::mt19937& rng, int depth);

std::string random_string(std::mt19937& rng) {
  static const char* pieces[] = {"a", "Z", "0", " ", "\\\"", "\\\\", "\\/", "\\n", "\\t", "\\u0001", "\\u001F", "\\u00e9", "é", "😀",
                                 "\\ud83d\\ude00", "\x7f", "key", "\\b", "\\f", "\\r"};
  std::string s = "\"";
  for (int n = rng() % 6; n > 0; --n) s += pieces[rng() % std::size(pieces)];
  return s + "\"";
}

std::string random_number(std::mt19937& rng) {
  static const char* forms[] = {"0", "-0", "7", "-12", "3.25", "-0.5", "1e3", "2.5E-4", "1e21", "-1e-7", "100.0", "0.1",
                                "9007199254740993", "18446744073709551615", "-9223372036854775808", "123456.789e3"};
  return forms[rng() % std::size(forms)];
}

std::string random_object(std::mt19937& rng, int depth) {
  std::string s = "{";
  for (int n = rng() % 5; n > 0; --n) {
    if (s.size() > 1) s += ",";
    s += random_string(rng) + ":" + random_value(rng, depth + 1);
  }
  return s + "}";
}

std::string random_value(std::mt19937& rng, int depth) {
  switch (depth > 4 ? rng() % 4 : rng() % 6) {
    case 0: return random_string(rng);
    case 1: return random_number(rng);
    case 2: return (rng() % 2) ? "true" : "null";
    case 3: return "false";
    case 4: return random_object(rng, depth);
    default: {
      std::string s = "[";
      for (int n = rng() % 4; n > 0; --n) s += (s.size() > 1 ? "," : "") + random_value(rng, depth + 1);
      return s + "]";
    }
  }
}

TEST(CanonicalJson, RandomObjectsComeOutAsNlohmannWritesThem) {
  std::mt19937 rng(20261205);
  for (int i = 0; i < 3000; ++i) expect_same_as_nlohmann(random_object(rng, 0));
}

}  // namespace
}  // namespace tributary
