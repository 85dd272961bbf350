// timed: runs a command and reports its wall time, CPU time and peak RSS.
//
//   timed [--warm BYTES] OUT_FILE COMMAND [ARGS...]
//
// --warm BYTES first touches and frees that much anonymous memory, untimed: this VM hands freed
// memory back to its host and faults it in again on the next touch (unpacking 1 GiB into fresh
// tmpfs files took 0.93 s a second after a large free, 0.20 s right after touching 1.5 GiB), so
// every side is warmed alike just before it runs, or the ratios measure the host.
//
// The child's stdin/stdout/stderr are passed through untouched. When it exits, one line is
// appended to OUT_FILE:
//   wall_s user_s sys_s maxrss_kib exit_status other_cpu_s
// Wall time is CLOCK_MONOTONIC around fork..wait4. CPU time and peak RSS come from wait4()'s
// rusage, which covers the child and every descendant it waited for (so `bash -c 'a | b'`
// reports a+b's CPU and the larger of their peak RSS). other_cpu_s is the CPU time the whole
// machine spent outside the command meanwhile (busy + steal time from /proc/stat, minus the
// command's own), i.e. how much other load competed with it; it has tick (10 ms) resolution.
// timed exits with the child's status.
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

void Warm(unsigned long long bytes) {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return;  // a hint, not a requirement
  // In 2 MiB pages where the kernel gives them: a huge-page tmpfs then gets memory the host has
  // just faulted in too, not only commands that allocate 4 KiB pages.
  ::madvise(p, bytes, MADV_HUGEPAGE);
  const long page = ::sysconf(_SC_PAGESIZE);
  for (unsigned long long o = 0; o < bytes; o += static_cast<unsigned long long>(page)) {
    static_cast<volatile char*>(p)[o] = 1;
  }
  ::munmap(p, bytes);
}

double Now() {
  struct timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

double Seconds(const struct timeval& tv) {
  return tv.tv_sec + tv.tv_usec * 1e-6;
}

// CPU seconds the machine has spent busy (anything but idle and iowait), steal included.
double BusySeconds() {
  FILE* f = std::fopen("/proc/stat", "r");
  if (f == nullptr) return 0;
  unsigned long long v[8] = {};
  int n = std::fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                      &v[4], &v[5], &v[6], &v[7]);
  std::fclose(f);
  if (n < 8) return 0;
  // user nice system idle iowait irq softirq steal (guest time is already inside user).
  unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
  return static_cast<double>(busy) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 3 && std::strcmp(argv[1], "--warm") == 0) {
    Warm(std::strtoull(argv[2], nullptr, 10));
    argv += 2;
    argc -= 2;
  }
  if (argc < 3) {
    std::fprintf(stderr, "usage: timed [--warm BYTES] OUT_FILE COMMAND [ARGS...]\n");
    return 2;
  }
  double busy_start = BusySeconds();
  double start = Now();
  pid_t pid = ::fork();
  if (pid < 0) {
    std::perror("fork");
    return 1;
  }
  if (pid == 0) {
    ::execvp(argv[2], argv + 2);
    std::fprintf(stderr, "timed: cannot run %s: %s\n", argv[2], std::strerror(errno));
    ::_exit(127);
  }
  int status = 0;
  struct rusage ru;
  while (::wait4(pid, &status, 0, &ru) < 0) {
    if (errno != EINTR) {
      std::perror("wait4");
      return 1;
    }
  }
  double wall = Now() - start;
  double cpu = Seconds(ru.ru_utime) + Seconds(ru.ru_stime);
  double other = std::max(0.0, BusySeconds() - busy_start - cpu);
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  FILE* out = std::fopen(argv[1], "a");
  if (out == nullptr) {
    std::perror(argv[1]);
    return 1;
  }
  std::fprintf(out, "%.6f %.6f %.6f %ld %d %.3f\n", wall, Seconds(ru.ru_utime),
               Seconds(ru.ru_stime), ru.ru_maxrss, code, other);
  std::fclose(out);
  return code;
}
