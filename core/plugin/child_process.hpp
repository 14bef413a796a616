#pragma once
// A plugin's child process: started with one end of a socketpair as its stdin and stdout,
// stderr shared with the host, nothing else open, in its own process group, killed when the
// host dies (PR_SET_PDEATHSIG), with an address-space limit (RLIMIT_AS), and only the part of
// the host's environment that running a program needs (PATH, HOME, LANG, LC_*, TZ, TMPDIR,
// PYTHON*, ...): not the provider keys it holds.
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace tributary {

struct child_spec {
  std::vector<std::string> argv;  // argv[0] is looked up on PATH when it has no slash
  std::filesystem::path cwd;      // empty: the host's
  uint64_t memory_limit = 0;      // bytes of address space; 0 = no limit
};

// The exit status plugin-host (and the Python helper) use when the plugin ran out of memory.
constexpr int exit_out_of_memory = 86;

class child_process {
 public:
  static std::variant<child_process, std::string> spawn(const child_spec& spec);
  child_process(child_process&& o) noexcept;
  child_process& operator=(child_process&& o) noexcept;
  child_process(const child_process&) = delete;
  ~child_process();  // kills (SIGKILL) and reaps a child still running

  pid_t pid() const { return pid_; }
  int fd() const { return fd_; }
  // CPU time the child has used so far, in ms (0 when it cannot be read).
  int64_t cpu_ms() const;
  // Waits up to `ms` for the child to end; its wait status, or nullopt if it still runs.
  std::optional<int> wait_for(int ms);
  // Kills and reaps it; its wait status.
  int kill_and_reap();

 private:
  child_process(pid_t pid, int fd) : pid_(pid), fd_(fd) {}
  void close_fd();
  pid_t pid_ = -1;
  int fd_ = -1;
  bool reaped_ = false;
};

// "killed by SIGSEGV", "exited with status 3", "ran out of memory"
std::string describe_exit(int wait_status);
// The path of the running executable, for `tributary plugin-host` (TRIBUTARY_PLUGIN_HOST
// overrides it: tests whose process is not `tributary`).
std::string plugin_host_program();

}  // namespace tributary
