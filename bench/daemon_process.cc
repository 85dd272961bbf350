#include "bench/daemon_process.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace warmboot::bench {
namespace {

bool Accepts(const std::string& socket) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", socket.c_str());
  const bool ok = ::connect(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  if (!out) Fail("cannot write " + path);
}

// `key value` lines of a /proc file, the value's first number.
uint64_t Field(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, key.size(), key) == 0)
      return std::strtoull(line.c_str() + key.size(), nullptr, 10);
  }
  return 0;
}

}  // namespace

void Fail(const std::string& message) {
  std::fprintf(stderr, "%s\n", message.c_str());
  std::exit(1);
}

std::unique_ptr<DaemonProcess> DaemonProcess::Start(const DaemonSpec& spec) {
  // Its own (empty) restored view, not whatever the machine's configuration names.
  const std::string restore = spec.dir + "/restore", reports = spec.dir + "/reports";
  ::mkdir(restore.c_str(), 0755);
  ::mkdir(reports.c_str(), 0755);
  const std::string config = spec.dir + "/warmbootd.conf";
  WriteFile(config, "restore_dir = " + restore + "\nreport_dir = " + reports + "\n");
  const std::string log = spec.dir + "/warmbootd.log";
  std::vector<std::string> args{spec.warmbootd, "--config", config, "--socket", spec.socket};
  args.insert(args.end(), spec.args.begin(), spec.args.end());

  pid_t pid = ::fork();
  if (pid < 0) Fail(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    // Fail() exits without stopping it: the daemon goes with the benchmark, however it ends.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (out >= 0) {
      ::dup2(out, 1);
      ::dup2(out, 2);
    }
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    std::fprintf(stderr, "cannot run %s: %s\n", argv[0], std::strerror(errno));
    ::_exit(127);
  }
  std::unique_ptr<DaemonProcess> d(new DaemonProcess(pid, log));
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!Accepts(spec.socket)) {
    int status;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      d->pid_ = -1;
      Fail(spec.warmbootd + " exited before it accepted connections; see " + log);
    }
    if (std::chrono::steady_clock::now() > give_up) Fail("warmbootd did not accept within 10 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return d;
}

DaemonProcess::~DaemonProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

ProcessUsage DaemonProcess::Usage() const {
  ProcessUsage u;
  const std::string proc = "/proc/" + std::to_string(pid_);
  // Asio's io_context runs on one thread, but count any others it may start.
  if (DIR* dir = ::opendir((proc + "/task").c_str())) {
    while (struct dirent* e = ::readdir(dir)) {
      if (e->d_name[0] == '.') continue;
      std::ifstream in(proc + "/task/" + e->d_name + "/schedstat");
      uint64_t ns = 0;
      if (in >> ns) u.cpu_ns += ns;
    }
    ::closedir(dir);
  }
  u.rss_kib = Field(proc + "/status", "VmRSS:");
  u.hwm_kib = Field(proc + "/status", "VmHWM:");
  u.rchar = Field(proc + "/io", "rchar:");
  u.wchar = Field(proc + "/io", "wchar:");
  return u;
}

void DaemonProcess::Stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  int status = 0;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (::waitpid(pid_, &status, WNOHANG) != pid_) {
    if (std::chrono::steady_clock::now() > give_up)
      Fail("warmbootd did not stop within 10 s of SIGTERM");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  pid_ = -1;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    Fail("warmbootd did not exit cleanly; see " + log_);
}

}  // namespace warmboot::bench
