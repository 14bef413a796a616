#pragma once
#include <memory>
#include <string>

namespace spdlog { class logger; }

namespace tributary {

class redactor;

// A logger writing to stderr whose every line passes through `secrets` first.
std::shared_ptr<spdlog::logger> make_logger(const std::string& name, const std::string& level,
                                            std::shared_ptr<const redactor> secrets);

}  // namespace tributary
