#include "obs/log.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <mutex>

#include <nlohmann/json.hpp>

#include "util/redactor.hpp"

namespace tributary {
namespace {

// One JSON object a line; the message is escaped by nlohmann::json.
class json_formatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    time_.format(msg, dest);  // the timestamp, as the text format writes it
    std::string ts(dest.data(), dest.size());
    dest.clear();
    nlohmann::json j{{"ts", ts},
                     {"level", std::string(spdlog::level::to_string_view(msg.level).data(), spdlog::level::to_string_view(msg.level).size())},
                     {"logger", std::string(msg.logger_name.data(), msg.logger_name.size())},
                     {"msg", std::string(msg.payload.data(), msg.payload.size())}};
    auto line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    dest.append(line.data(), line.data() + line.size());
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<json_formatter>(); }

 private:
  spdlog::pattern_formatter time_{"%Y-%m-%dT%H:%M:%S.%eZ", spdlog::pattern_time_type::utc, ""};
};

std::string_view colour_of(spdlog::level::level_enum l) {
  switch (l) {
    case spdlog::level::trace: return "\033[37m";
    case spdlog::level::debug: return "\033[36m";
    case spdlog::level::info: return "\033[32m";
    case spdlog::level::warn: return "\033[33m\033[1m";
    default: return "\033[31m\033[1m";
  }
}

// stderr, with every secret masked after formatting; the level coloured on a terminal.
class redacting_stderr_sink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  redacting_stderr_sink(std::shared_ptr<const redactor> r, bool colour) : secrets_(std::move(r)), colour_(colour) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t buf;
    formatter_->format(msg, buf);
    std::string line(buf.data(), buf.size());
    if (colour_ && msg.color_range_end > msg.color_range_start && msg.color_range_end <= line.size()) {
      line.insert(msg.color_range_end, "\033[0m");
      line.insert(msg.color_range_start, colour_of(msg.level));
    }
    if (secrets_) line = secrets_->scrub(line);
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
  void flush_() override { std::fflush(stderr); }

 private:
  std::shared_ptr<const redactor> secrets_;
  bool colour_;
};

}  // namespace


std::shared_ptr<spdlog::logger> make_logger(const std::string& name, const std::string& level,
                                            std::shared_ptr<const redactor> secrets, log_format format) {
  bool colour = format == log_format::text && ::isatty(STDERR_FILENO) && !std::getenv("NO_COLOR");
  auto sink = std::make_shared<redacting_stderr_sink>(std::move(secrets), colour);
  auto log = std::make_shared<spdlog::logger>(name, sink);
  if (format == log_format::json) log->set_formatter(std::make_unique<json_formatter>());
  else log->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %n: %v", spdlog::pattern_time_type::utc);
  log->set_level(spdlog::level::from_str(level));
  log->flush_on(spdlog::level::trace);
  return log;
}

}  // namespace tributary
