#pragma once
// Reading a record back from its canonical bytes (a stream entry, a latest:* key) without
// building a DOM: every field but `data`, which stays null until someone needs it
// (record_data). simdjson on demand, one parser and buffer per thread: no allocation per
// record beyond the record's own strings.
#include <optional>
#include <string_view>

#include <nlohmann/json.hpp>

#include "record/record.hpp"

namespace tributary {

// The record's fields into `out` (its strings keep their capacity), `data` left null; false
// when the bytes are not a tributary.v1 record.
bool read_record_header(std::string_view json, record& out);
// The `data` object of a record's canonical bytes (an empty object when there is none).
nlohmann::json read_record_data(std::string_view json);
// The JSON text of a record's `data`, or of its member `member` when not empty, without a DOM;
// empty when missing. Valid until the next call on this thread.
std::string_view record_data_text(std::string_view json, std::string_view member = {});

}  // namespace tributary
