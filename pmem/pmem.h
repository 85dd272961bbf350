// The seam between warmboot and the kernel's pmem/dax machinery: one namespace, its dax
// device and the memory blocks kmem hot-plugged from it. Each PmemPlatform call is one step the
// kernel takes; the transitions to raw and back to System RAM are written once, above the seam
// (pmem/transitions.h), and run over the real implementation (pmem/ndctl/, libndctl/libdaxctl)
// and the simulated one (testing/, for tests and fault injection) alike.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "media/media.h"
#include "util/status.h"
#include "util/uuid.h"

namespace warmboot {

enum class PmemMode {
  kSystemRam,  // devdax with the dax device bound to kmem: the memory is System RAM
  kDevdax,     // devdax bound to device_dax (a character device, /dev/daxX.Y)
  kRaw,        // raw block device /dev/pmemX: where the image is written
  kFsdax,      // block device with a pfn info block
  // Enabled in no mode: what a reconfiguration or a label rename that failed half-way leaves
  // (the kernel takes the namespace down first). EnableNamespace brings it up raw.
  kDisabled,
  kUnknown,
};
const char* PmemModeName(PmemMode mode);
PmemMode PmemModeFromName(const std::string& name);  // kUnknown when not a mode name

struct MemoryBlockState {
  uint64_t index = 0;  // /sys/devices/system/memory/memoryN
  bool online = false;
  std::string zone;  // "Movable", "Normal", ... for online blocks
};

struct PmemInfo {
  std::string name;    // "namespace0.0"
  std::string region;  // "region0"
  PmemMode mode = PmemMode::kUnknown;
  uint64_t size = 0;         // namespace size in bytes
  int numa_node = -1;        // the node the namespace's device sits on
  int target_node = -1;      // the node kmem adds its memory to (its own node on an NVDIMM)
  std::string block_device;  // "/dev/pmem0" in raw/fsdax mode
  std::string dax_device;    // "dax0.0" in devdax/system-ram mode
  uint64_t memory_block_size = 0;
  std::vector<MemoryBlockState> blocks;  // system-ram mode: the dax device's memory blocks
  bool labeled = false;  // the namespace has a label (real NVDIMMs) and so can carry a name
  std::string label_name;
  // Where the namespace sits, stable across boots and reconfigurations: a labeled namespace's
  // uuid, or "legacy@0x<physical start>" for an e820 (memmap=) one. warmboot's dax uuid is
  // derived from it (pmem/ownership.h).
  std::string identity;
  // devdax and system-ram modes: the uuid the dax info block records (all zeros otherwise).
  Uuid dax_uuid{};
  // raw mode: what a superblock probe finds on the device ("ext4", "xfs", "swap", ...), or "".
  std::string foreign_signature;
  // The physical address of the namespace's first byte: it spans [phys_start, phys_start +
  // size). 0 = unknown (sysfs shows it to root only).
  uint64_t phys_start = 0;

  uint64_t OnlineBlocks() const;
};

// The blocks that are online (or offline), by their sysfs names: "memory16, memory17" (the
// first 32, then "and N more"); "" when there are none.
std::string BlockNames(const std::vector<MemoryBlockState>& blocks, bool online);

class PmemPlatform {
 public:
  virtual ~PmemPlatform() = default;

  // Finds the configured namespace (by name, or the only pmem namespace) and reads its state.
  // kNotFound with "no pmem namespace found" on a machine without one.
  virtual Result<PmemInfo> Probe() = 0;

  // The kernel's policy for onlining hot-plugged memory (memory/auto_online_blocks).
  virtual Result<std::string> GetAutoOnlinePolicy() = 0;
  virtual Status SetAutoOnlinePolicy(const std::string& policy) = 0;

  // Tries to offline every online memory block of the dax device, each one (exactly the blocks
  // kmem added for it) tried even when another refused; kBusy when some refuse (their pages
  // could not be migrated) or take longer than `block_timeout` (the kernel retries migration
  // until a signal arrives; the platform interrupts it). The blocks that stay online take at
  // most `budget` together (those going offline are progress and not charged): a block gets what
  // is left of it when that is less than `block_timeout`, and blocks not reached in time stay
  // online (kBusy), so many stuck blocks cannot hold a shutdown for block_timeout each. Blocks
  // already offline are left alone.
  virtual Status OfflineMemory(std::chrono::milliseconds block_timeout,
                               std::chrono::milliseconds budget) = 0;
  // Onlines every offline memory block of the dax device (movable: ZONE_MOVABLE).
  virtual Status OnlineMemory(bool movable) = 0;

  // Unbinds the dax device's driver. For kmem this hot-removes its memory; the kernel always
  // lets the unbind happen, and blocks still online then stay in use (leaked) until reboot.
  virtual Status DisableDax() = 0;
  // Binds the dax device to device_dax or to kmem (which hot-plugs its memory, offline).
  virtual Status EnableDax(PmemMode mode) = 0;

  // Reconfigures the namespace to kRaw or kDevdax ("map mem": the struct pages live in RAM;
  // the namespace keeps only its info block, padded to the 2 MiB alignment). Rewrites the
  // namespace's info block at its start.
  virtual Status ReconfigureNamespace(PmemMode mode) = 0;

  // Enables a disabled namespace in raw mode (no claim), as `ndctl enable-namespace` with raw
  // enforced: nothing on the device is written. Ok when it is enabled already.
  virtual Status EnableNamespace() = 0;

  // The raw namespace as Media, with its known bad ranges attached.
  virtual Result<std::unique_ptr<Media>> OpenRawMedia(OpenMode mode) = 0;
  // Known media errors (poison), as byte ranges relative to the namespace start.
  virtual Result<std::vector<ByteRange>> KnownBadRanges() = 0;
  // Clears known media errors in `ranges` (as `ndctl clear-errors` does); kUnsupported where the
  // platform cannot.
  virtual Status ClearErrors(const std::vector<ByteRange>& ranges) = 0;
  // Records `name` in the namespace label; kUnsupported for label-less namespaces. A raw
  // namespace is briefly disabled for it, so call it before opening the raw device.
  virtual Status SetLabelName(const std::string& name) = 0;
};

}  // namespace warmboot
