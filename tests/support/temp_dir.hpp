#pragma once
// A directory that exists for one test and is removed after it.
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

namespace tributary::test_support {

class temp_dir {
 public:
  temp_dir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() / ("tributary-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path write(const std::string& rel, const std::string& text) const {
    auto p = path_ / rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p;
  }
  // A cassette answering `path` with `status` and `body` (JSON value or raw string).
  std::filesystem::path cassette(const std::string& rel, const std::string& path, const nlohmann::json& query, int status,
                                 const nlohmann::json& body, const nlohmann::json& headers = nlohmann::json::object()) const {
    nlohmann::json c{{"request", {{"method", "GET"}, {"path", path}, {"query", query}, {"headers", nlohmann::json::object()}}},
                     {"response", {{"status", status}, {"headers", headers}, {"body", body}}}};
    return write(rel, c.dump(2));
  }

 private:
  std::filesystem::path path_;
};

}  // namespace tributary::test_support
