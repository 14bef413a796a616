#include "plugin/child_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <string_view>
#include <cstring>
#include <thread>
#include <utility>

extern char** environ;

namespace tributary {

namespace {

// Tells the parent why the child could not start (errno on `fd`), and ends the child.
[[noreturn]] void fail(int fd) {
  int e = errno;
  (void)!write(fd, &e, sizeof e);
  _exit(127);
}

// In the forked child, before exec: only async-signal-safe calls. Reports a failure's errno
// on `err` (fd 3 here, closed by exec) and exits.
[[noreturn]] void become_child(int sock, int err, pid_t parent, char* const* argv, char* const* envp, const char* cwd,
                               uint64_t memory_limit) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(1);  // the host died before the line above
  setpgid(0, 0);                      // the terminal's Ctrl-C goes to the host, which stops its children
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  signal(SIGPIPE, SIG_DFL);
  if (dup2(sock, 0) < 0 || dup2(sock, 1) < 0) fail(err);
  if (err != 3 && dup3(err, 3, O_CLOEXEC) < 0) fail(err);
  if (close_range(4, ~0u, 0) != 0) fail(3);
  if (cwd && chdir(cwd) != 0) fail(3);
  if (memory_limit > 0) {
    rlimit r{memory_limit, memory_limit};
    if (setrlimit(RLIMIT_AS, &r) != 0) fail(3);
  }
  execvpe(argv[0], argv, envp);
  fail(3);
}

// The host's environment holds every provider's key; a plugin gets its own settings through
// create, and from the environment only what finding and running a program needs.
bool passed_to_plugins(std::string_view entry) {
  static constexpr std::string_view names[] = {"PATH=", "HOME=", "USER=", "LOGNAME=", "LANG=", "TZ=", "TMPDIR=",
                                               "LD_LIBRARY_PATH=", "VIRTUAL_ENV=", "NODE_PATH="};
  static constexpr std::string_view prefixes[] = {"LC_", "PYTHON", "PYENV"};
  for (auto n : names)
    if (entry.rfind(n, 0) == 0) return true;
  for (auto p : prefixes)
    if (entry.rfind(p, 0) == 0) return true;
  return false;
}

std::string signal_name(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

}  // namespace

std::variant<child_process, std::string> child_process::spawn(const child_spec& spec) {
  if (spec.argv.empty()) return std::string("no command to run");
  std::vector<char*> argv;
  for (auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (char** e = environ; *e; ++e)
    if (passed_to_plugins(*e)) envp.push_back(*e);
  envp.push_back(nullptr);
  std::string cwd = spec.cwd.string();
  int sv[2], err[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return std::string("socketpair: ") + strerror(errno);
  if (pipe2(err, O_CLOEXEC) != 0) {
    close(sv[0]), close(sv[1]);
    return std::string("pipe: ") + strerror(errno);
  }
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) become_child(sv[1], err[1], parent, argv.data(), envp.data(), cwd.empty() ? nullptr : cwd.c_str(), spec.memory_limit);
  close(sv[1]), close(err[1]);
  if (pid < 0) {
    close(sv[0]), close(err[0]);
    return std::string("fork: ") + strerror(errno);
  }
  child_process c(pid, sv[0]);
  int child_errno = 0;
  ssize_t n;
  while ((n = read(err[0], &child_errno, sizeof child_errno)) < 0 && errno == EINTR) {}
  close(err[0]);
  if (n == static_cast<ssize_t>(sizeof child_errno))  // exec failed: the child has exited
    return "cannot run '" + spec.argv.front() + "'" + (cwd.empty() ? "" : " in " + cwd) + ": " + strerror(child_errno);
  fcntl(c.fd_, F_SETFL, fcntl(c.fd_, F_GETFL) | O_NONBLOCK);
  return c;
}

child_process::child_process(child_process&& o) noexcept
    : pid_(std::exchange(o.pid_, -1)), fd_(std::exchange(o.fd_, -1)), reaped_(std::exchange(o.reaped_, true)) {}

child_process& child_process::operator=(child_process&& o) noexcept {
  if (this != &o) {
    if (pid_ > 0 && !reaped_) kill_and_reap();
    close_fd();
    pid_ = std::exchange(o.pid_, -1);
    fd_ = std::exchange(o.fd_, -1);
    reaped_ = std::exchange(o.reaped_, true);
  }
  return *this;
}

child_process::~child_process() {
  if (pid_ > 0 && !reaped_) kill_and_reap();
  close_fd();
}

void child_process::close_fd() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

int64_t child_process::cpu_ms() const {
  clockid_t cid;
  timespec ts{};
  if (pid_ <= 0 || reaped_ || clock_getcpuclockid(pid_, &cid) != 0 || clock_gettime(cid, &ts) != 0) return 0;
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1'000'000;
}

std::optional<int> child_process::wait_for(int ms) {
  if (pid_ <= 0 || reaped_) return std::nullopt;
  for (int waited = 0;; waited += 5) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      return status;
    }
    if (r < 0 && errno != EINTR) return reaped_ = true, std::optional<int>(0);
    if (waited >= ms) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

int child_process::kill_and_reap() {
  if (pid_ <= 0 || reaped_) return 0;
  kill(pid_, SIGKILL);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {}
  reaped_ = true;
  close_fd();
  return status;
}

std::string describe_exit(int st) {
  if (WIFSIGNALED(st)) return "killed by " + signal_name(WTERMSIG(st));
  if (WIFEXITED(st) && WEXITSTATUS(st) == exit_out_of_memory) return "ran out of memory (memory_limit)";
  if (WIFEXITED(st)) return "exited with status " + std::to_string(WEXITSTATUS(st));
  return "ended (wait status " + std::to_string(st) + ")";
}

std::string plugin_host_program() {
  if (const char* over = getenv("TRIBUTARY_PLUGIN_HOST"); over && *over) return over;
  return "/proc/self/exe";
}

}  // namespace tributary
