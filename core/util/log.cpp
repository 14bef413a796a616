#include "util/log.hpp"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <mutex>

#include "util/redactor.hpp"

namespace tributary {
namespace {

class redacting_stderr_sink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit redacting_stderr_sink(std::shared_ptr<const redactor> r) : secrets_(std::move(r)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t buf;
    formatter_->format(msg, buf);
    std::string line(buf.data(), buf.size());
    if (secrets_) line = secrets_->scrub(line);
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
  void flush_() override { std::fflush(stderr); }

 private:
  std::shared_ptr<const redactor> secrets_;
};

}  // namespace

std::shared_ptr<spdlog::logger> make_logger(const std::string& name, const std::string& level,
                                            std::shared_ptr<const redactor> secrets) {
  auto sink = std::make_shared<redacting_stderr_sink>(std::move(secrets));
  auto log = std::make_shared<spdlog::logger>(name, sink);
  log->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %n: %v", spdlog::pattern_time_type::utc);
  log->set_level(spdlog::level::from_str(level));
  log->flush_on(spdlog::level::trace);
  return log;
}

}  // namespace tributary
