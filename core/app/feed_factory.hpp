#pragma once
// Makes the running feed of a [feeds.ID] table from the sources already made: each source must
// run the way the feed runs it (a stream feed's first source streams, every other one is
// polled), serve the feed's kind and map every subject. A source that cannot is left out and
// reported at the config position of the key at fault.
#include <map>
#include <memory>
#include <string>

#include "config/config.hpp"

namespace tributary {

struct feed_runtime;
struct source_runtime;

// nullptr when the feed's kind is unknown (reported).
std::shared_ptr<feed_runtime> make_feed(const feed_config& fc, const std::map<std::string, source_runtime*>& sources,
                                        const report_error& error);

}  // namespace tributary
