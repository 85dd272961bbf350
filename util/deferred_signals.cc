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

void DeferredSignals::Discard() {
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
  posix_spawnattr_setflags(&attr_, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
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
