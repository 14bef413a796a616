#pragma once
#include <filesystem>
#include <vector>

namespace tributary {

// The SDK's testing helper: runs golden cases through the real loader and the cassette
// transport. A case directory holds:
//   case.toml       a Tributary config naming the plugin instance and one feed
//   case.json       optional: {"feed": ID, "now": MS, "env": {...}, "expect_error": CLASS}
//   cassettes/      the recorded exchanges
//   expected.jsonl  the records the feed must produce, one JSON object a line, in order
// Prints one PASS/FAIL line per case with the difference; returns 0 when all pass.
int run_test_cases(const std::vector<std::filesystem::path>& cases,
                   const std::vector<std::filesystem::path>& plugin_dirs);

}  // namespace tributary
