#pragma once
// `tributary plugin-host LIB`: serves one plugin library over the plugin protocol on the
// socket it was started with (stdin and stdout), for a host that runs the plugin with
// isolation = "process". Returns the process's exit code.
#include <filesystem>

namespace tributary {

int serve_plugin(const std::filesystem::path& library);

}  // namespace tributary
