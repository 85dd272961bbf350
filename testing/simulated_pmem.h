// A simulated pmem namespace for tests and fault injection, obeying the kernel's rules:
// - kmem hot-plugs whole 128 MiB blocks (devdax "map mem" keeps only the 2 MiB info block area
//   of the namespace; the struct pages live in RAM), offline, unless the auto-online policy says
//   otherwise;
// - offlining a block can fail with EBUSY;
// - unbinding kmem always succeeds, and blocks still online are then leaked until reboot;
// - reconfiguring the namespace overwrites its first 8 KiB with an info block;
// - /dev/pmem0 exists only in raw/fsdax mode and is backed by a file that survives "reboots".
// Its state lives in a directory (sim.json + pmem.img) so separate processes (the CLI) can share
// it; every step can be made to fail once or N times.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "pmem/pmem.h"

namespace warmboot {

enum class PmemStep {
  kProbe,
  kGetPolicy,
  kSetPolicy,
  kOffline,
  kOnline,
  kDisableDax,
  kEnableDax,
  kReconfigure,
  kOpenRaw,
  kBadRanges,
  kClearErrors,
  kSetLabel,
  // Inside ReconfigureNamespace and SetLabelName, after the namespace was taken down: the
  // failure leaves it disabled (a reconfiguration with its info block cleared).
  kEnableNamespace,
  // Inside DisableDax, after the unbind took the memory away: the call still fails.
  kDisableDaxAfterUnbind,
};
const char* PmemStepName(PmemStep step);

class SimulatedPmem : public PmemPlatform {
 public:
  static constexpr uint64_t kBlockSize = 128ull << 20;
  static constexpr uint64_t kFirstBlock = 16;
  // Where the namespace sits in physical memory unless SetPhysStart says otherwise: 4 GiB, as
  // with memmap=SIZE!4G (FakeKexecSystem's /proc/cmdline has memmap=528M!4G).
  static constexpr uint64_t kDefaultPhysStart = 4ull << 30;

  // Creates a new simulated namespace of `size` bytes in `dir` (raw mode, as after a cold boot
  // of a memmap= region), replacing any earlier one.
  static Result<std::unique_ptr<SimulatedPmem>> Create(const std::string& dir, uint64_t size,
                                                       bool labeled = false);
  // Opens the simulated namespace kept in `dir`.
  static Result<std::unique_ptr<SimulatedPmem>> Open(const std::string& dir);

  Result<PmemInfo> Probe() override;
  Result<std::string> GetAutoOnlinePolicy() override;
  Status SetAutoOnlinePolicy(const std::string& policy) override;
  Status OfflineMemory(std::chrono::milliseconds block_timeout,
                       std::chrono::milliseconds budget) override;
  Status OnlineMemory(bool movable) override;
  Status DisableDax() override;
  Status EnableDax(PmemMode mode) override;
  Status ReconfigureNamespace(PmemMode mode) override;
  Result<std::unique_ptr<Media>> OpenRawMedia(OpenMode mode) override;
  Result<std::vector<ByteRange>> KnownBadRanges() override;
  Status ClearErrors(const std::vector<ByteRange>& ranges) override;
  Status SetLabelName(const std::string& name) override;
  Status EnableNamespace() override;

  // Fault injection: the next `times` calls of `step` fail with `status`, after `after` calls
  // that succeed.
  void FailStep(PmemStep step, Status status, int times = 1, int after = 0);
  // Offlining block `index` fails with EBUSY `times` more times (-1: always).
  void SetBlockBusy(uint64_t index, int times);
  // Offlining block `index` never finishes on its own (the kernel keeps migrating): each try
  // ends at its timeout, as the real platform's timer makes it.
  void SetBlockHangs(uint64_t index, bool hangs);
  // What hanging blocks took of this object's offline calls, in simulated time.
  std::chrono::milliseconds offline_waited() const { return offline_waited_; }
  // Power cut: writes through the raw device fail once `bytes` more have been written.
  void FailWritesAfter(uint64_t bytes);
  // Marks a byte range of the namespace as poisoned.
  void AddBadRange(ByteRange range);
  // What a reboot does: leaked memory returns, kmem bindings and the policy reset.
  void Reboot();
  // The kernel's own auto-online policy, now and after every reboot: "online" is what
  // MEMORY_HOTPLUG_DEFAULT_ONLINE (bookworm-backports' 6.12) or ONLINE_AUTO (7.x) give, blocks
  // onlined into a kernel zone the moment kmem adds them.
  void SetBootPolicy(const std::string& policy);
  // What an administrator's `ndctl create-namespace -f -m fsdax|devdax|raw` does: a new info
  // block that warmboot did not write (devdax: a random uuid).
  Status AdminReconfigure(PmemMode mode);
  // The physical address Probe reports (0: unknown, as for a non-root reader).
  void SetPhysStart(uint64_t phys_start);
  // The node kmem adds the memory to (default 0, the device's own: as with memmap=); another
  // one models an NVDIMM whose memory is a node of its own.
  void SetTargetNode(int node);

  PmemMode mode() const { return mode_; }
  uint64_t leaked_blocks() const;
  const std::string& image_path() const { return image_path_; }
  uint64_t blocks_total() const { return blocks_.size(); }

 private:
  struct Block {
    uint64_t index = 0;
    bool present = false;  // hot-plugged (kmem bound)
    bool online = false;
    bool movable = false;
    bool leaked = false;
    int busy = 0;  // offline attempts that will fail with EBUSY (-1: always)
    bool hangs = false;
  };
  struct Fault {
    Status status;
    int times = 0;
    int after = 0;  // calls that succeed first
  };

  SimulatedPmem() = default;
  Status Save() const;
  Status Load();
  Status Injected(PmemStep step);
  Status WriteInfoBlock(PmemMode mode);
  std::string Identity() const;
  std::string ForeignSignature() const;

  std::string dir_, image_path_;
  std::chrono::milliseconds offline_waited_{0};
  uint64_t size_ = 0;
  PmemMode mode_ = PmemMode::kRaw;
  bool labeled_ = false;
  std::string label_name_;
  Uuid dax_uuid_{};
  uint64_t phys_start_ = kDefaultPhysStart;
  int target_node_ = 0;
  std::string policy_ = "offline";
  std::string boot_policy_ = "offline";
  std::vector<Block> blocks_;
  std::vector<ByteRange> bad_ranges_;
  std::map<PmemStep, Fault> faults_;
  int64_t write_budget_ = -1;  // -1: no write fault
};

}  // namespace warmboot
