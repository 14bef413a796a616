#pragma once
// `tributary config sample`: a commented config built from the plugins found. Plugins that
// need neither a key nor a required setting get a working instance and feed, so `check`
// accepts the sample as printed; the others are there commented out, ready to fill in.
#include <filesystem>
#include <string>
#include <vector>

namespace tributary {

struct plugin_manifest;

std::string sample_config(const std::vector<plugin_manifest>& plugins, const std::vector<std::filesystem::path>& plugin_dirs);

}  // namespace tributary
