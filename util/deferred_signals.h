// SIGTERM, SIGINT and SIGHUP held back while a command changes the machine, so that it decides
// where to stop rather than dying half-way: before preserve's point of no return a signal rolls
// everything back; after it the image is sealed (or never) before the command stops. The
// signals stay pending until Take() consumes one or the object goes; then the mask is put back
// and a signal still pending is delivered as usual.
// REQUIRES: constructed on the main thread before any worker starts (threads inherit the mask),
// at most one alive at a time.
#pragma once

#include <signal.h>
#include <spawn.h>

namespace warmboot {

class DeferredSignals {
 public:
  DeferredSignals();
  ~DeferredSignals();
  DeferredSignals(const DeferredSignals&) = delete;
  DeferredSignals& operator=(const DeferredSignals&) = delete;

  // The first held-back signal that arrived (consumed), or 0. Never blocks.
  int Take();
  // The signal Take() returned last, for messages (0: none).
  int taken() const { return taken_; }
  // From now on the held-back signals are ignored, and any pending is dropped: for when the
  // command is past caring (the machine is already on its way down) and must not die by one
  // when this goes. For the rest of the process.
  void Dismiss();

 private:
  sigset_t held_, old_;
  int taken_ = 0;
};

// Attributes for posix_spawn: the child starts with no signal blocked and SIGTERM, SIGINT,
// SIGHUP and SIGPIPE at their defaults, whatever this process holds back meanwhile (the mask
// and ignored signals are inherited across exec), so a service manager can stop it; and in a
// process group of its own, so the terminal's Ctrl-C reaches only warmboot.
class SpawnSignalDefaults {
 public:
  SpawnSignalDefaults();
  ~SpawnSignalDefaults();
  SpawnSignalDefaults(const SpawnSignalDefaults&) = delete;
  SpawnSignalDefaults& operator=(const SpawnSignalDefaults&) = delete;
  const posix_spawnattr_t* get() const { return &attr_; }

 private:
  posix_spawnattr_t attr_;
};

// "SIGTERM", "SIGINT", ... for messages.
const char* SignalName(int signo);

}  // namespace warmboot
