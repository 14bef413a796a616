#include "util/thread_name.hpp"

#include <pthread.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace tributary {

void name_thread(std::thread& t, std::string_view name) {
  std::array<char, 16> cut{};  // 15 bytes and the terminator: pthread_setname_np refuses longer
  std::memcpy(cut.data(), name.data(), std::min(name.size(), cut.size() - 1));
  pthread_setname_np(t.native_handle(), cut.data());
}

}  // namespace tributary
