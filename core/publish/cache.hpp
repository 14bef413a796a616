#pragma once
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

#include "publish/published.hpp"

namespace tributary {

// Latest record per topic, in process. Readers share a lock; entries are immutable.
class record_cache final : public record_sink {
 public:
  void accept(const std::shared_ptr<const published_record>& r) override;
  std::shared_ptr<const published_record> latest(const std::string& topic) const;
  std::vector<std::shared_ptr<const published_record>> matching(std::string_view pattern) const;
  std::vector<std::shared_ptr<const published_record>> all() const;
  size_t size() const;

 private:
  mutable std::shared_mutex mu_;
  std::map<std::string, std::shared_ptr<const published_record>, std::less<>> latest_;
};

}  // namespace tributary
