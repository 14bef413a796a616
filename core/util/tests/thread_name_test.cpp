#include "util/thread_name.hpp"

#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fstream>
#include <future>
#include <string>
#include <thread>

namespace tributary {
namespace {

// What the kernel shows for thread `tid` of this process (`ps -L`, `top -H`).
std::string comm_of(long tid) {
  std::ifstream f("/proc/self/task/" + std::to_string(tid) + "/comm");
  std::string name;
  std::getline(f, name);
  return name;
}

// The name a thread sees for itself once its maker has named it.
std::string named_in_a_thread(const std::string& name) {
  std::promise<void> named;
  std::string seen;
  std::thread t([&, go = named.get_future()] {
    go.wait();
    seen = comm_of(syscall(SYS_gettid));
  });
  name_thread(t, name);
  named.set_value();
  t.join();
  return seen;
}

TEST(ThreadName, AThreadIsShownByTheNameItsMakerGaveIt) {
  EXPECT_EQ(named_in_a_thread("stream-reader"), "stream-reader");
  EXPECT_EQ(named_in_a_thread("io-3"), "io-3");
}

TEST(ThreadName, ALongNameIsCutToTheKernelsFifteenBytes) {
  // pthread_setname_np refuses a name past 15 bytes outright; the thread would keep its old one.
  EXPECT_EQ(named_in_a_thread("push:binance_websocket"), "push:binance_we");
}

}  // namespace
}  // namespace tributary
