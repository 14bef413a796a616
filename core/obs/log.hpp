#pragma once
#include <memory>
#include <optional>
#include <string>

#include "config/modes.hpp"

namespace spdlog { class logger; }

namespace tributary {

class redactor;


// A logger writing to stderr whose every line passes through `secrets` first. Text lines are
// coloured by level when stderr is a terminal; json writes one object a line:
//   {"ts":"2026-11-22T23:40:01.123Z","level":"info","logger":"tributary","msg":"..."}
std::shared_ptr<spdlog::logger> make_logger(const std::string& name, const std::string& level,
                                            std::shared_ptr<const redactor> secrets, log_format format = log_format::text);

}  // namespace tributary
