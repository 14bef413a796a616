#pragma once
// Names a thread as `top -H`, `ps -L`, perf and gdb show it ("io-0", "stream-reader"). Its
// maker names it right after making it, so the name is there once the maker goes on. The
// kernel keeps 15 bytes of a name: a longer one is cut there.
#include <string_view>
#include <thread>

namespace tributary {

void name_thread(std::thread& t, std::string_view name);

}  // namespace tributary
