// A child process for tests that act as another user or under other limits: forked when it is
// constructed, before the test starts a daemon thread, and held until Start().
//
// Why before: a child forked from a threaded process inherits every lock another thread held at
// that instant, held forever (the C++ runtime's, the dynamic linker's). One such child hung a
// CI run for ten minutes (DaemonTest.OnlyRootRunsARound). Forked first, the child has the whole
// process as it was, and no thread it could have been waiting for.
//
// Bounded: the child's body has `limit_s` seconds (SIGALRM ends it) and a parent that goes away
// before Start() ends it too, so a hang is a failure that names itself, not a stuck test run.
#pragma once

#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <string>

namespace warmboot::testing {

class ChildProcess {
 public:
  // What the child's body returns is its exit code (0: every check held; not 98 or 99).
  explicit ChildProcess(std::function<int()> body, unsigned limit_s = 60) : limit_s_(limit_s) {
    int go[2];  // a socket pair, not a pipe: a child already gone is no SIGPIPE at Start()
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, go) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(go[1]);
      char c = 0;
      ssize_t n;
      while ((n = ::read(go[0], &c, 1)) < 0 && errno == EINTR) {
      }
      if (n != 1) ::_exit(kNotStarted);  // the parent gave up before Start()
      ::signal(SIGALRM, SIG_DFL);
      sigset_t alarm;
      sigemptyset(&alarm);
      sigaddset(&alarm, SIGALRM);
      ::sigprocmask(SIG_UNBLOCK, &alarm, nullptr);
      ::alarm(limit_s);
      // Nothing may leave the body: an exception would run the rest of the test, its TearDown
      // and its fixture's destructors (a TempDir removing the parent's files) in the child.
      int code = kThrew;
      try {
        code = body();
      } catch (...) {
      }
      ::_exit(code);
    }
    ::close(go[0]);
    if (pid_ < 0) {
      ::close(go[1]);
      return;
    }
    go_ = go[1];
  }
  ~ChildProcess() {
    if (go_ >= 0) ::close(go_);
    if (pid_ > 0 && !reaped_) {
      // Killed, started or not: a child never started would read the end of the stream, unless
      // another child forked meanwhile holds a copy of this one's end.
      ::kill(pid_, SIGKILL);
      int status;
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
    }
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  bool ok() const { return pid_ > 0; }  // false: the socket pair or the fork failed
  pid_t pid() const { return pid_; }

  // Lets the child run its body.
  void Start() {
    if (go_ < 0) return;
    // A child already gone is seen by Wait().
    while (::send(go_, "g", 1, MSG_NOSIGNAL) < 0 && errno == EINTR) {
    }
    ::close(go_);
    go_ = -1;
  }

  // Waits for the child to end (starting it first if nobody did). Returns "" when its body
  // returned 0, else what happened: "exit 12", "killed by signal 14 (its 60 s ran out)".
  std::string Wait() {
    if (pid_ <= 0) return "no child: the socket pair or the fork failed";
    if (reaped_) return "waited for already";
    Start();
    int status = 0;
    pid_t r;
    while ((r = ::waitpid(pid_, &status, 0)) < 0 && errno == EINTR) {
    }
    reaped_ = true;
    if (r != pid_) return std::string("waitpid failed: ") + std::strerror(errno);
    if (WIFEXITED(status)) {
      const int code = WEXITSTATUS(status);
      if (code == 0) return "";
      if (code == kThrew) return "its body threw";
      if (code == kNotStarted) return "never started";
      return "exit " + std::to_string(code);
    }
    const int sig = WTERMSIG(status);
    return "killed by signal " + std::to_string(sig) +
           (sig == SIGALRM ? " (its " + std::to_string(limit_s_) + " s ran out: a hang)" : "");
  }

  // Exit codes of its own: a body returns others.
  static constexpr int kNotStarted = 99;
  static constexpr int kThrew = 98;

 private:
  unsigned limit_s_;
  pid_t pid_ = -1;
  int go_ = -1;
  bool reaped_ = false;
};

}  // namespace warmboot::testing
