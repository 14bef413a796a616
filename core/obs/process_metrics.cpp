#include "obs/process_metrics.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "obs/metrics.hpp"

#ifndef TRIBUTARY_VERSION
#define TRIBUTARY_VERSION "unknown"
#endif

namespace tributary {

namespace {

struct proc_stat {
  double cpu_seconds = 0, start_seconds = 0, virtual_bytes = 0, resident_bytes = 0, threads = 0;
};

double boot_time() {
  std::ifstream in("/proc/stat");
  for (std::string key; in >> key;) {
    if (key == "btime") {
      double t = 0;
      in >> t;
      return t;
    }
    in.ignore(1 << 16, '\n');
  }
  return 0;
}

// /proc/self/stat: the fields after the command name, which is in parentheses and may hold spaces.
proc_stat read_stat() {
  proc_stat s;
  std::ifstream in("/proc/self/stat");
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = all.rfind(')');
  if (close == std::string::npos) return s;
  std::istringstream f(all.substr(close + 2));
  std::string v[24];
  for (auto& x : v) f >> x;  // v[0] is field 3 (state)
  double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
  auto num = [](const std::string& t) { return t.empty() ? 0.0 : std::stod(t); };
  s.cpu_seconds = (num(v[11]) + num(v[12])) / tick;     // utime, stime
  s.threads = num(v[17]);                                // num_threads
  s.start_seconds = boot_time() + num(v[19]) / tick;      // starttime
  s.virtual_bytes = num(v[20]);                           // vsize
  s.resident_bytes = num(v[21]) * static_cast<double>(::sysconf(_SC_PAGESIZE));  // rss pages
  return s;
}

double open_fds() {
  double n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (auto* e = ::readdir(d))
      if (e->d_name[0] != '.') ++n;
    ::closedir(d);
    --n;  // the directory stream's own descriptor
  }
  return n;
}

}  // namespace

void add_process_metrics(metrics& m) {
  m.describe("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.");
  m.describe("process_open_fds", "gauge", "Number of open file descriptors.");
  m.describe("process_max_fds", "gauge", "Maximum number of open file descriptors.");
  m.describe("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
  m.describe("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
  m.describe("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.");
  m.describe("process_threads", "gauge", "Number of OS threads in the process.");
  m.describe("tributary_build_info", "gauge", "Always 1; the version of this build in a label");
  m.set("tributary_build_info", {{"version", TRIBUTARY_VERSION}}, 1);
  m.add_collector([](std::vector<metrics::sample>& out) {
    auto s = read_stat();
    rlimit rl{};
    ::getrlimit(RLIMIT_NOFILE, &rl);
    out.push_back({"process_cpu_seconds_total", {}, s.cpu_seconds});
    out.push_back({"process_open_fds", {}, open_fds()});
    out.push_back({"process_max_fds", {}, static_cast<double>(rl.rlim_cur)});
    out.push_back({"process_virtual_memory_bytes", {}, s.virtual_bytes});
    out.push_back({"process_resident_memory_bytes", {}, s.resident_bytes});
    out.push_back({"process_start_time_seconds", {}, s.start_seconds});
    out.push_back({"process_threads", {}, s.threads});
  });
}

}  // namespace tributary
