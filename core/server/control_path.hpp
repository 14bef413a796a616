#pragma once
// The control API's paths (docs/protocol.md, Control API): POST /api/v1/feeds/{id}/run|pause|resume
// and POST /api/v1/sources/{name}/reset. No I/O here.
#include <optional>
#include <string>
#include <string_view>

#include "server/server.hpp"

namespace tributary {

// The request a (percent-decoded) path names, or nullopt when it names none.
std::optional<control_request> parse_control_path(std::string_view path);

}  // namespace tributary
