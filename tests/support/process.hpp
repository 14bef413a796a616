#pragma once
// Runs the tributary binary as a child process for end-to-end tests.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace tributary::test_support {

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class child {
 public:
  // Starts `args` with stdout and stderr sent to files in `dir`.
  child(const std::vector<std::string>& args, const std::filesystem::path& dir) : out_(dir / "stdout"), err_(dir / "stderr") {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ) != 0) throw std::runtime_error("spawn failed");
    posix_spawn_file_actions_destroy(&fa);
  }
  ~child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  // Waits for exit (up to `limit`); returns the exit code, or -1 on timeout / signal.
  int wait(std::chrono::milliseconds limit = std::chrono::seconds(30)) {
    int st = wait_status(limit);
    return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  }
  // Waits for exit (up to `limit`); the raw wait status (WIFSIGNALED...), or -1 on timeout.
  int wait_status(std::chrono::milliseconds limit = std::chrono::seconds(30)) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      int st = 0;
      if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        return st;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }
  void signal(int sig) { ::kill(pid_, sig); }
  std::string out() const { return slurp(out_); }
  std::string err() const { return slurp(err_); }

 private:
  pid_t pid_ = -1;
  std::filesystem::path out_, err_;
};

struct run_result {
  int code;
  std::string out, err;
};

inline run_result run(const std::vector<std::string>& args, const std::filesystem::path& dir) {
  child c(args, dir);
  int code = c.wait();
  return {code, c.out(), c.err()};
}

}  // namespace tributary::test_support
