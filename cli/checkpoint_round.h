// The checkpoint round as warmboot preserve runs it (docs/api.md): connects to warmbootd as an
// observer, runs the round, and turns the ready apps' exported segments into image entries under
// .warmboot-api/UID/APP/SEGMENT (directories 0700 and files 0600, owned by the app's uid), read
// straight from the descriptors the daemon hands over. The connection stays open in the
// result's `keep`, so the sets stay frozen until the pack is done.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "preserve/preserve.h"

namespace warmboot::cli {

// kNotFound when no daemon listens on `socket`. `hold_ms` > 0: once this process lets go (or
// calls the result's `end`), the daemon holds the round that long for AdoptCheckpointRound.
Result<CheckpointRound> RunCheckpointRound(const std::string& socket, uint64_t deadline_ms,
                                           uint64_t hold_ms = 0);
// Takes over round `round`, held since warmboot reboot ran it. kNotFound: no daemon, or the
// round is gone (its hold ran out, or the daemon restarted).
Result<CheckpointRound> AdoptCheckpointRound(const std::string& socket, uint64_t round);
// Calls `adopt` again while it fails with kBusy (the daemon answers busy while warmboot reboot's
// connection is still closing), pausing between tries, for at most `window` in all counting the
// time the tries took: a client timeout is kBusy too, and a daemon that stopped answering must
// cost one reply timeout, not one per try. `now` and `pause` are the clock and the sleep.
Result<CheckpointRound> RetryWhileBusy(
    const std::function<Result<CheckpointRound>()>& adopt, std::chrono::milliseconds window,
    const std::function<std::chrono::steady_clock::time_point()>& now,
    const std::function<void()>& pause);
// Ends round `round`, held by nobody: adopts it and ends it at once (its sets thaw).
Status EndHeldRound(const std::string& socket, uint64_t round);

}  // namespace warmboot::cli
