// warmbootd as a child process, for the checkpoint API's benchmarks (bench/api): started on a
// socket in the benchmark's work directory with a configuration of its own, stopped with
// SIGTERM as systemd stops it. Its CPU time and memory are read from /proc while it runs, so
// what the daemon spends on a request can be told apart from what its client spends.
//
//   auto d = DaemonProcess::Start({warmbootd, dir + "/api.sock", dir, {"--max-connections",
//   "2000"}}); ProcessUsage before = d->Usage();
//   ...requests...
//   uint64_t cpu_ns = d->Usage().cpu_ns - before.cpu_ns;
//
// Failures are fatal (the program exits with a message): a benchmark has no use for half a run.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace warmboot::bench {

struct ProcessUsage {
  uint64_t cpu_ns = 0;   // user + sys of every thread, from /proc/PID/task/*/schedstat
  uint64_t rss_kib = 0;  // VmRSS
  uint64_t hwm_kib = 0;  // VmHWM: the peak RSS so far
  // /proc/PID/io: bytes moved through read- and write-family calls (sockets included). A daemon
  // that read a segment's bytes would show them here.
  uint64_t rchar = 0, wchar = 0;
};

struct DaemonSpec {
  std::string warmbootd;  // the binary
  std::string socket;
  std::string dir;  // its configuration, log and (empty) restore directories go here
  std::vector<std::string> args;
};

class DaemonProcess {
 public:
  // Starts it and waits (up to 10 s) until it accepts connections. Its stdout and stderr go to
  // DIR/warmbootd.log.
  static std::unique_ptr<DaemonProcess> Start(const DaemonSpec& spec);
  ~DaemonProcess();
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  pid_t pid() const { return pid_; }
  ProcessUsage Usage() const;
  // SIGTERM, then waits for it to exit (fatal if it does not within 10 s or exits non-zero).
  void Stop();

 private:
  DaemonProcess(pid_t pid, std::string log) : pid_(pid), log_(std::move(log)) {}
  pid_t pid_;
  std::string log_;
};

// Prints `message` to stderr and exits 1.
[[noreturn]] void Fail(const std::string& message);

}  // namespace warmboot::bench
