#pragma once
// A price record already numbered, as a broker hands it to the stream writers and copy sinks.
#include <memory>
#include <string>

#include "publish/published.hpp"

namespace tributary::test_support {

inline std::shared_ptr<const published_record> numbered_price(const std::string& subject, uint64_t seq) {
  record r;
  r.kind = "price";
  r.subject = subject;
  r.seq = seq;
  r.data = {{"price", seq}};
  return published_record::make(r);
}

}  // namespace tributary::test_support
