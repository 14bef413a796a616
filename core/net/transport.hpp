#pragma once
// How the host does HTTP for its plugins. send() never blocks on the network; the callback
// runs on the transport's I/O thread (or, for replay, inside send itself), so callers must
// not hold locks across send() that the callback takes.
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <variant>

#include "plugin/plugin.hpp"

namespace tributary {

class clock_source;
class redactor;

class http_transport {
 public:
  using callback = std::function<void(http_response)>;
  virtual ~http_transport() = default;
  // `done` is called exactly once: on the transport's thread, or at once on the caller's after shutdown().
  virtual void send(http_request request, callback done) = 0;
  // Completes every request in flight or waiting with an error ("transport stopped") and its
  // callback, and answers any later send() the same way, at once. Call it while whatever the
  // callbacks reach is still alive.
  virtual void shutdown() {}
};

struct curl_options {
  size_t max_body_bytes = 16 << 20;
  std::string user_agent = "tributary/0.1";
};

// libcurl multi driven by one I/O thread, whatever the number of requests in flight.
std::unique_ptr<http_transport> make_curl_transport(const clock_source& clock, curl_options opts = {});

// Answers from the cassette files of a directory (docs/cassettes.md).
// Returns the transport or an error naming the bad file.
std::variant<std::unique_ptr<http_transport>, std::string> make_cassette_transport(
    const std::filesystem::path& dir, const clock_source& clock);

// Does real requests through `inner` and writes one cassette per exchange into `dir`,
// with every secret value replaced by REDACTED.
std::unique_ptr<http_transport> make_recording_transport(std::unique_ptr<http_transport> inner,
                                                         const std::filesystem::path& dir,
                                                         const redactor& secrets);

// Prefix of the error of a response that no cassette matched.
inline constexpr std::string_view no_cassette_error = "no cassette matches";

}  // namespace tributary
