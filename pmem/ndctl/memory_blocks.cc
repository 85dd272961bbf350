// The memory blocks kmem hot-plugs from the dax device: their state, read from sysfs where
// libdaxctl has no call; offlining and onlining them; and the kernel's auto-online policy.
#include <daxctl/libdaxctl.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <utility>
#include <vector>

#include "pmem/ndctl/internal.h"
#include "pmem/offline_blocks.h"
#include "pmem/pmem.h"
#include "util/io.h"
#include "util/status.h"
#include "util/strings.h"
#include "util/unique_fd.h"

namespace warmboot {
namespace ndctl_internal {

namespace {

constexpr char kMemorySysfs[] = "/sys/devices/system/memory";

// ---------------------------------------------------------------------------------------------
// Sysfs reads and the memory block state libdaxctl does not expose.

Result<std::string> ReadAttr(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot read " + path, errno);
  UniqueFd guard(fd);
  char buf[4096];
  size_t n = 0;
  if (int err = ReadFull(fd, buf, sizeof buf, &n); err != 0) {
    return ErrnoError("cannot read " + path, err);
  }
  return Trim(std::string_view(buf, n));
}

}  // namespace

// /sys/devices/system/memory/block_size_bytes. libdaxctl reports the block size only through the
// memory object of a device already in system-ram mode, so it is read here directly.
Result<uint64_t> MemoryBlockSize() {
  WB_ASSIGN_OR_RETURN(std::string text, ReadAttr(std::string(kMemorySysfs) + "/block_size_bytes"));
  char* end = nullptr;
  unsigned long long v = std::strtoull(text.c_str(), &end, 16);
  if (text.empty() || *end != '\0' || v == 0) {
    return IoError("cannot parse the memory block size '" + text + "' in " + kMemorySysfs +
                   "/block_size_bytes");
  }
  return static_cast<uint64_t>(v);
}

namespace {

// The state of /sys/devices/system/memory/memoryN, or nothing when the block does not exist
// (not hot-plugged). These per-block reads have no libdaxctl call: daxctl_memory_is_online()
// only counts, and its zone scan is internal.
Result<bool> ReadBlock(uint64_t index, MemoryBlockState* out) {
  std::string dir = std::string(kMemorySysfs) + "/memory" + std::to_string(index);
  auto state = ReadAttr(dir + "/state");
  if (!state.ok()) {
    if (state.status().code() == Code::kNotFound) return false;
    return state.status();
  }
  out->index = index;
  out->online = state->rfind("online", 0) == 0;
  out->zone.clear();
  if (out->online) {
    // For an online block valid_zones names the zone it is in.
    auto zones = ReadAttr(dir + "/valid_zones");
    if (zones.ok()) out->zone = *zones;
  }
  return true;
}

}  // namespace

// The memory blocks that lie wholly inside [start, end): those kmem hot-plugs from such a range
// (it aligns the range inward to the block size). Blocks that do not exist are left out.
Result<std::vector<MemoryBlockState>> BlocksIn(uint64_t start, uint64_t end, uint64_t block_size) {
  std::vector<MemoryBlockState> out;
  uint64_t first = (start + block_size - 1) / block_size;
  uint64_t last = end / block_size;  // exclusive
  for (uint64_t i = first; i < last; ++i) {
    MemoryBlockState b;
    WB_ASSIGN_OR_RETURN(bool present, ReadBlock(i, &b));
    if (present) out.push_back(std::move(b));
  }
  return out;
}

namespace {

// The physical ranges [start, end) of a device-dax instance.
Result<std::vector<std::pair<uint64_t, uint64_t>>> DaxRanges(struct daxctl_dev* dev) {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  struct daxctl_mapping* m;
  daxctl_mapping_foreach(dev, m) {
    out.emplace_back(daxctl_mapping_get_start(m), daxctl_mapping_get_end(m) + 1);
  }
  if (!out.empty()) return out;
  uint64_t start = daxctl_dev_get_resource(dev);
  if (start == 0 || start == ULLONG_MAX) {
    return Status(Code::kPermission, std::string("cannot read the physical address of ") +
                                         daxctl_dev_get_devname(dev) + " (run as root)");
  }
  out.emplace_back(start, start + daxctl_dev_get_size(dev));
  return out;
}

}  // namespace

// The memory blocks hot-plugged (or hot-pluggable) from a device-dax instance.
Result<std::vector<MemoryBlockState>> DaxBlocks(struct daxctl_dev* dev, uint64_t block_size) {
  WB_ASSIGN_OR_RETURN(auto ranges, DaxRanges(dev));
  std::vector<MemoryBlockState> out;
  for (const auto& [start, end] : ranges) {
    WB_ASSIGN_OR_RETURN(auto blocks, BlocksIn(start, end, block_size));
    out.insert(out.end(), blocks.begin(), blocks.end());
  }
  return out;
}

// memory/auto_online_blocks is kernel policy with no libdaxctl setter (the library only reads
// it in daxctl_dev_will_auto_online_memory()), so both directions use the sysfs file.
Result<std::string> NdctlPmemPlatform::GetAutoOnlinePolicy() {
  return ReadAttr(std::string(kMemorySysfs) + "/auto_online_blocks");
}

Status NdctlPmemPlatform::SetAutoOnlinePolicy(const std::string& policy) {
  if (policy != "offline" && policy != "online" && policy != "online_movable" &&
      policy != "online_kernel") {
    return InvalidArgument("invalid auto_online_blocks policy '" + policy +
                           "' (offline, online, online_movable or online_kernel)");
  }
  std::string path = std::string(kMemorySysfs) + "/auto_online_blocks";
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot open " + path + " to set the policy (run as root)", errno);
  UniqueFd guard(fd);
  if (int err = WriteAll(fd, policy.data(), policy.size()); err != 0) {
    return ErrnoError("cannot set " + path + " to " + policy, err);
  }
  return Status::Ok();
}

namespace {

void NoteTimer(int) {}  // its only job is to make the blocked write return EINTR

// Writes "offline" to memoryN/state, bounded by `timeout`. The kernel's offline_pages() keeps
// isolating and migrating until a signal is pending (then -EINTR, block left online), so a
// one-shot timer aimed at this thread interrupts it. 0 or an errno value (ETIMEDOUT on expiry).
int OfflineBlock(uint64_t index, std::chrono::milliseconds timeout) {
  std::string path = std::string(kMemorySysfs) + "/memory" + std::to_string(index) + "/state";
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) return errno;
  struct sigaction sa = {}, old = {};
  sa.sa_handler = NoteTimer;  // no SA_RESTART: the write must come back
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGALRM, &sa, &old);
  struct sigevent ev = {};
  ev.sigev_notify = SIGEV_THREAD_ID;
  ev.sigev_signo = SIGALRM;
  ev._sigev_un._tid = static_cast<pid_t>(::syscall(SYS_gettid));
  // A mask inherited from whoever started warmboot may block SIGALRM: the timer would then
  // never end the write. Unblocked for this thread around it.
  sigset_t alarm, mask;
  sigemptyset(&alarm);
  sigaddset(&alarm, SIGALRM);
  ::pthread_sigmask(SIG_UNBLOCK, &alarm, &mask);
  timer_t timer;
  struct itimerspec when = {};
  when.it_value.tv_sec = timeout.count() / 1000;
  when.it_value.tv_nsec = (timeout.count() % 1000) * 1000000;
  int err = 0;
  const auto start = std::chrono::steady_clock::now();  // before arming: expiry is a timeout
  if (::timer_create(CLOCK_MONOTONIC, &ev, &timer) != 0) {
    err = errno;  // never an unbounded write: EAGAIN is a refusal worth a retry
  } else if (::timer_settime(timer, 0, &when, nullptr) != 0) {
    err = errno;
    ::timer_delete(timer);
  }
  if (err == 0) {
    ssize_t n = ::write(fd.get(), "offline", 7);
    err = n == 7 ? 0 : n < 0 ? errno : EIO;
    ::timer_delete(timer);
  }
  ::pthread_sigmask(SIG_SETMASK, &mask, nullptr);
  ::sigaction(SIGALRM, &old, nullptr);
  if (err == EINTR && std::chrono::steady_clock::now() - start >= timeout) err = ETIMEDOUT;
  return err;
}

}  // namespace

// daxctl offline-memory (daxctl/device.c: dev_offline_memory()), over exactly the blocks this
// device's ranges hold (DaxBlocks): libdaxctl's memblock_in_dev() selects by start address with
// `<= dev_end` (a partial tail block, and before ndctl v76 the block starting at the end: boot
// RAM where no gap follows) and stops at the first block that refuses. Every block is tried.
Status NdctlPmemPlatform::OfflineMemory(std::chrono::milliseconds block_timeout,
                                        std::chrono::milliseconds budget) {
  WB_ASSIGN_OR_RETURN(Located at, Open());
  auto& [s, t, st] = at;
  if (st.mode != PmemMode::kSystemRam) {
    return InvalidArgument(t.name + " is in " + DescribeMode(st) +
                           " mode: no dax device bound to kmem, no memory to offline");
  }
  std::string dev = daxctl_dev_get_devname(st.dax.dev);
  WB_ASSIGN_OR_RETURN(uint64_t block_size, MemoryBlockSize());
  WB_ASSIGN_OR_RETURN(auto before, DaxBlocks(st.dax.dev, block_size));
  std::vector<uint64_t> online_before;
  for (const MemoryBlockState& b : before) {
    if (b.online) online_before.push_back(b.index);
  }
  const auto [why, retryable] = OfflineBlocksWithin(online_before, block_timeout, budget,
                                                    OfflineBlock, std::chrono::steady_clock::now);
  WB_ASSIGN_OR_RETURN(auto blocks, DaxBlocks(st.dax.dev, block_size));
  std::string online = BlockNames(blocks, true);
  s->log().Clear();
  if (online.empty()) return Status::Ok();
  if (!retryable)
    return IoError(dev + ": offlining memory failed (" + why + "); " + online +
                   " are still online");
  // EBUSY is both "pages could not be migrated yet" and a memory notifier's veto.
  if (why.starts_with("the step's time ran out")) {
    return Status(Code::kBusy, dev + ": " + online + " still online: " + why +
                                   " (blocks that would not go offline took it); retry, or free "
                                   "what pins that memory");
  }
  return Status(Code::kBusy, dev + ": " + online + " still online: the kernel refused to offline " +
                                 "them (" + why +
                                 ": pages it could not migrate, or a memory notifier's veto); "
                                 "retry, or free what pins that memory");
}

// daxctl online-memory (dev_online_memory()): daxctl_memory_online[_no_movable](), then check
// every block is online and in the zone asked for.
Status NdctlPmemPlatform::OnlineMemory(bool movable) {
  WB_ASSIGN_OR_RETURN(Located at, Open());
  auto& [s, t, st] = at;
  if (st.mode != PmemMode::kSystemRam) {
    return InvalidArgument(t.name + " is in " + DescribeMode(st) +
                           " mode: bind its dax device to kmem before onlining memory");
  }
  std::string dev = daxctl_dev_get_devname(st.dax.dev);
  struct daxctl_memory* mem = daxctl_dev_get_memory(st.dax.dev);
  if (mem == nullptr) return s->Fail(Code::kIoError, dev + ": libdaxctl has no memory object");
  int rc = movable ? daxctl_memory_online(mem) : daxctl_memory_online_no_movable(mem);
  WB_ASSIGN_OR_RETURN(uint64_t block_size, MemoryBlockSize());
  WB_ASSIGN_OR_RETURN(auto blocks, DaxBlocks(st.dax.dev, block_size));
  std::string offline = BlockNames(blocks, false);
  if (!offline.empty()) {
    Status err = rc < 0 ? s->Error(dev + ": onlining memory failed", rc)
                        : s->Fail(Code::kIoError, dev + ": onlining memory reported success");
    return Status(rc == -EBUSY ? Code::kBusy : err.code(),
                  err.message() + "; blocks " + offline + " are still offline");
  }
  const char* zone = movable ? "Movable" : "Normal";
  std::vector<MemoryBlockState> wrong;
  for (const MemoryBlockState& b : blocks) {
    if (b.zone != zone) wrong.push_back(b);
  }
  if (!wrong.empty()) {
    // libdaxctl's own zone check (-EBUSY "detected a race while onlining memory").
    return s->Fail(Code::kBusy,
                   dev + ": " + BlockNames(wrong, true) + " are online but not in " + zone +
                       " (zone " + wrong.front().zone +
                       "): another agent onlined them first; set memory/auto_online_blocks to "
                       "offline and check for udev rules that online memory");
  }
  s->log().Clear();
  return Status::Ok();
}

}  // namespace ndctl_internal
}  // namespace warmboot
