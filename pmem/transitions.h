// The two machine-level transitions, written once over the PmemPlatform seam:
//   ToRaw:       System RAM -> offline all blocks -> check -> unbind kmem -> namespace raw
//   ToSystemRam: raw -> namespace devdax (map mem) -> kmem -> blocks online movable
#pragma once

#include <chrono>
#include <functional>

#include "pmem/pmem.h"
#include "util/host_info.h"
#include "util/phase_log.h"

namespace warmboot {

// Page cache in the blocks' zone below this is not worth a drop of the whole machine's cache.
inline constexpr uint64_t kDropPageCacheFrom = 64ull << 20;

struct TransitionOptions {
  // Offlining is retried while blocks answer EBUSY: attempts, with a doubling pause between.
  int offline_attempts = 8;
  std::chrono::milliseconds offline_backoff{25};
  // Each block's offline, and the whole offline step with its retries, are bounded: expiry
  // rolls back like EBUSY. (The kernel keeps migrating pages until a signal arrives.)
  std::chrono::milliseconds offline_block_timeout{10000};
  std::chrono::milliseconds offline_timeout{60000};
  // Asked between steps; a signal number (non-zero) stops ToRaw before it unbinds kmem, rolled
  // back like a refusal. Null: never asked.
  std::function<int()> interrupted;
  // Tests replace the pause.
  std::function<void(std::chrono::milliseconds)> sleep;
  // Drops the clean page cache, once, before the first block is offlined (a failure is logged,
  // not fatal). Offlining copies every page the blocks hold into other memory; clean cache is
  // cheaper dropped than copied, and a kexec ends the page cache anyway. But the drop walks
  // all of the machine's cache: where movable_use is known it is done only when the blocks'
  // zone holds at least kDropPageCacheFrom of page cache. Null: kept (drop_page_cache = no).
  std::function<Status()> drop_page_cache;
  // What ZONE_MOVABLE on a node (-1: all) holds, nullopt when unknown: read before the offline,
  // it decides the drop and puts what was migrated, and at what rate, into the phase's detail,
  // so any machine's reports give its offline cost per GiB. Null: not known.
  std::function<std::optional<ZoneUse>(int node)> movable_use;
};

// Takes the namespace's memory out of System RAM and makes the namespace raw. While blocks are
// being offlined the kernel's auto-online policy is held at "offline" and put back afterwards.
// That policy governs only memory hot-added while it holds; nothing in the kernel stops an agent
// (a udev rule, an admin) from onlining an existing block again, which is why every block is
// checked offline before the unbind. If any block refuses, every block is brought back online and
// the call fails naming the blocks: the machine is as it was. Already raw: nothing to do.
Status ToRaw(PmemPlatform& platform, const TransitionOptions& options, PhaseLog* log);

// The first step of ToRaw alone, taken early (warmboot reboot, while the services still run) so
// that it is off the blackout: every block of a namespace in System RAM offlined and checked
// offline, the namespace left in system-ram mode. On a refusal every block comes back online, as
// in ToRaw: the machine is as it was. ToRaw later finds the blocks offline and goes on from
// there; ToSystemRam onlines them again. Ok, doing nothing, when every block is offline already.
Status OfflineAll(PmemPlatform& platform, const TransitionOptions& options, PhaseLog* log);

// Gives the namespace back to System RAM: (disabled ->) raw -> devdax -> kmem -> every block
// online in ZONE_MOVABLE. Any state a failed transition leaves comes back this way. Call it only
// when no sealed image waits on the namespace: a raw namespace is reconfigured. The auto-online
// policy is held at "offline" across the bind, so a kernel that onlines hot-plugged memory by
// itself (into a kernel zone) does not; blocks that something else onlined outside Movable anyway
// are offlined and onlined movable, or the call fails saying so (the memory stays System RAM).
// Never touches an fsdax or unknown namespace. Idempotent: each step checks and skips what is
// already done, so an interrupted call can simply be repeated.
Status ToSystemRam(PmemPlatform& platform, const TransitionOptions& options, PhaseLog* log);

}  // namespace warmboot
