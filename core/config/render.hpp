#pragma once
// The effective config as TOML (`tributary check --print`): every key with the value in force,
// defaults filled in, environment substituted. Mask secrets before printing it.
#include <string>

namespace tributary {

struct config;

std::string render_toml(const config& cfg);

}  // namespace tributary
