// A free-form record's data as a plugin sends it (trib_record.data_json) through the host's
// record checks: kept as its canonical text, or refused with the error a user can act on.
#include <gtest/gtest.h>

#include <string>

#include "plugin/backend.hpp"
#include "publish/published.hpp"
#include "sink/redis_stream_sink.hpp"

using namespace tributary;

namespace {

trib_str s(std::string_view v) { return {v.data(), v.size()}; }

call_result emit_event(std::string_view kind, std::string_view data) {
  call_output out;
  trib_record rec{};
  rec.struct_size = sizeof rec;
  rec.kind = s(kind), rec.subject = s("user.7.x"), rec.ts_ms = 5, rec.data_json = s(data);
  out.abi()->emit_record(out.abi()->ctx, &rec);
  return std::move(out.result());
}

}  // namespace

TEST(FreeFormData, IsKeptAsItsCanonicalTextAndWrittenIntoTheRecordAsItIs) {
  auto r = emit_event("event", R"({ "task_id" : "t-1", "progress" : 1.50, "status" : "done\n", "a" : [1, {"z":1,"y":2}] })");
  ASSERT_EQ(r.records.size(), 1u) << (r.errors.empty() ? "" : r.errors[0].str());
  const record& x = r.records[0];
  EXPECT_TRUE(x.data.is_null());  // no DOM
  EXPECT_EQ(x.data_text, R"({"a":[1,{"y":2,"z":1}],"progress":1.5,"status":"done\n","task_id":"t-1"})");
  std::string bytes;
  x.write_json(bytes);
  EXPECT_EQ(bytes, x.to_json().dump());  // the record's bytes are what its DOM would write
  EXPECT_EQ(x.to_json()["data"]["task_id"], "t-1");
}

TEST(FreeFormData, WhatIsNotAnObjectOrNotJsonIsABadDataError) {
  for (std::string_view bad : {"[1,2]", "\"text\"", "{\"a\":", "{\"a\":\"\xff\"}", "{} trailing"}) {
    auto r = emit_event("event", bad);
    EXPECT_TRUE(r.records.empty()) << bad;
    ASSERT_EQ(r.errors.size(), 1u) << bad;
    EXPECT_EQ(r.errors[0].cls, error_class::bad_data) << bad;
    EXPECT_EQ(r.errors[0].message, "message data is not a JSON object") << bad;
  }
}

TEST(FreeFormData, WhatSimdjsonDoesNotTakeIsReadAsBefore) {
  auto r = emit_event("event", R"({"big":123456789012345678901234567890})");  // past 64 bits: nlohmann makes it a double
  ASSERT_EQ(r.records.size(), 1u);
  EXPECT_TRUE(r.records[0].data_text.empty());
  EXPECT_DOUBLE_EQ(r.records[0].data["big"].get<double>(), 1.2345678901234568e29);
}

TEST(FreeFormData, OverItsBoundOrOfAnUnknownKindItIsRefused) {
  std::string big = R"({"a":")" + std::string(70 * 1024, 'x') + R"("})";
  auto r = emit_event("event", big);
  EXPECT_TRUE(r.records.empty());
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].message, "message data over 64 KiB");
  // Under the bound as text, over it as written (1e9 is written 1000000000.0).
  std::string grows = R"({"a":[1e9)";
  while (grows.size() < 60 * 1024) grows += ",1e9";
  r = emit_event("event", grows + "]}");
  EXPECT_TRUE(r.records.empty());
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].message, "message data over 64 KiB");
  r = emit_event("no_such_kind", R"({"a":1})");
  EXPECT_TRUE(r.records.empty());
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_NE(r.problems[0].find("unknown kind"), std::string::npos);
}

// A Redis stream sink in flat form writes an event's members, read back from its bytes when its
// data came as text.
TEST(FreeFormData, ASinkInFlatFormWritesItsMembers) {
  auto r = emit_event("event", R"({"status":"done","progress":100})");
  ASSERT_EQ(r.records.size(), 1u);
  auto p = published_record::make(std::move(r.records[0]));
  auto f = redis_stream_sink::fields_of(*p, sink_format::flat);
  ASSERT_EQ(f.size(), 6u);
  EXPECT_EQ(f[0], "progress");
  EXPECT_EQ(f[1], "100");
  EXPECT_EQ(f[2], "status");
  EXPECT_EQ(f[3], "done");
  EXPECT_EQ(f[4], "updated_at");
}
