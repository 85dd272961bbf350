#include "util/deferred_signals.h"

#include <pthread.h>

#include <ctime>
#include <initializer_list>

namespace warmboot {

DeferredSignals::DeferredSignals() {
  sigemptyset(&held_);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&held_, s);
  pthread_sigmask(SIG_BLOCK, &held_, &old_);
}

DeferredSignals::~DeferredSignals() {
  // A signal taken is the command's to answer; one that came later is delivered now.
  pthread_sigmask(SIG_SETMASK, &old_, nullptr);
}

int DeferredSignals::Take() {
  if (taken_ != 0) return taken_;  // a stop once asked for stays asked for
  struct timespec zero = {0, 0};
  int s = sigtimedwait(&held_, nullptr, &zero);
  if (s > 0) taken_ = s;
  return taken_;
}

void DeferredSignals::Dismiss() {
  // Ignoring a signal discards it while pending (POSIX), and keeps one arriving later, up to
  // and after the destructor's unmask, from killing the process.
  struct sigaction ignore = {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaction(s, &ignore, nullptr);
  struct timespec zero = {0, 0};
  while (sigtimedwait(&held_, nullptr, &zero) > 0) {
  }
}

SpawnSignalDefaults::SpawnSignalDefaults() {
  posix_spawnattr_init(&attr_);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGPIPE}) sigaddset(&defaults, s);
  posix_spawnattr_setsigmask(&attr_, &none);
  posix_spawnattr_setsigdefault(&attr_, &defaults);
  // A process group of its own: a Ctrl-C at the terminal is for warmboot, which decides, not
  // for a systemctl that may already have handed systemd the job. A service manager's stop
  // reaches it all the same (by cgroup).
  posix_spawnattr_setpgroup(&attr_, 0);
  posix_spawnattr_setflags(&attr_,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
}

SpawnSignalDefaults::~SpawnSignalDefaults() {
  posix_spawnattr_destroy(&attr_);
}

const char* SignalName(int signo) {
  switch (signo) {
    case SIGTERM:
      return "SIGTERM";
    case SIGINT:
      return "SIGINT";
    case SIGHUP:
      return "SIGHUP";
  }
  return "a signal";
}

}  // namespace warmboot
