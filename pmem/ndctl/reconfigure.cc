// Reconfiguring the namespace between devdax ("map mem") and raw, step by step the way
// `ndctl create-namespace -f -e` does it.
#include <daxctl/libdaxctl.h>
#include <fcntl.h>
#include <ndctl/libndctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "pmem/ndctl/internal.h"
#include "pmem/ownership.h"
#include "pmem/pmem.h"
#include "util/aligned_buffer.h"
#include "util/io.h"
#include "util/status.h"
#include "util/unique_fd.h"
#include "util/uuid.h"

namespace warmboot {
namespace ndctl_internal {

namespace {

// ndctl's zero_info_block() clears the first 8 KiB: the pfn/dax info block sits at 4 KiB, a BTT
// info block at 0 or 4 KiB.
constexpr size_t kInfoBlockBytes = 8192;
// The kernel refuses dax personalities on namespaces under 16 MiB (nd_namespace_store()).
constexpr uint64_t kMinDaxBytes = 16ull << 20;

// Refuses when any memory block inside the namespace is online System RAM: then the kernel is
// using that memory (kmem still bound, or blocks leaked by a kmem unbind with blocks online),
// and rewriting the namespace would corrupt it.
Status CheckNoSystemRam(const Target& t, const NsState& st) {
  WB_ASSIGN_OR_RETURN(uint64_t block_size, MemoryBlockSize());
  std::vector<MemoryBlockState> blocks;
  uint64_t start = ndctl_namespace_get_resource(t.ndns);
  if (start != ULLONG_MAX) {
    WB_ASSIGN_OR_RETURN(blocks,
                        BlocksIn(start, start + ndctl_namespace_get_size(t.ndns), block_size));
  } else if (st.dax.dev != nullptr) {
    WB_ASSIGN_OR_RETURN(blocks, DaxBlocks(st.dax.dev, block_size));
  } else {
    return Status(Code::kPermission,
                  "cannot read the physical address of " + t.name + " (run as root)");
  }
  std::string online = BlockNames(blocks, true);
  if (online.empty()) return Status::Ok();
  return Status(Code::kBusy,
                online + " inside " + t.name + " are online System RAM" +
                    (st.dax.kmem ? std::string(": offline them and unbind kmem first")
                                 : std::string(" although no kmem device holds them (leaked by "
                                               "an unbind with blocks online): reboot to get "
                                               "them back")));
}

// ---------------------------------------------------------------------------------------------
// Steps of `ndctl create-namespace -f -e` (ndctl/namespace.c: namespace_reconfig()).

// zero_info_block(): bring the namespace up in forced-raw mode and clear the first 8 KiB, so no
// stale btt/pfn/dax info block makes the kernel re-create the old personality. Neither library
// has a call for this; ndctl itself writes the zeros through the block device, as here.
Status ZeroInfoBlock(Session& s, const Target& t) {
  if (ndctl_namespace_get_size(t.ndns) == 0) return Status::Ok();
  int rc = ndctl_namespace_set_raw_mode(t.ndns, 1);
  Status result = [&]() -> Status {
    if (rc < 0) return s.Error(t.name + ": cannot force raw mode to clear its info block", rc);
    rc = ndctl_namespace_enable(t.ndns);
    // ndctl only warns here and carries on; a namespace whose old info block survives would come
    // back with its old personality, so this is an error.
    if (rc < 0) {
      return s.Error(t.name + ": cannot enable it in raw mode to clear its info block", rc);
    }
    std::string bdev = ndctl_namespace_get_block_device(t.ndns);
    if (bdev.empty()) {
      return s.Fail(Code::kNotFound, t.name +
                                         ": no block device appeared in forced-raw mode, so "
                                         "its info block could not be cleared");
    }
    std::string path = "/dev/" + bdev;
    int fd = ::open(path.c_str(), O_RDWR | O_DIRECT | O_EXCL | O_CLOEXEC);
    if (fd < 0) {
      return ErrnoError(t.name + ": cannot open " + path +
                            " exclusively to clear its info block (is it mounted or in use?)",
                        errno);
    }
    UniqueFd guard(fd);
    AlignedBuffer zeros(kInfoBlockBytes), current(kInfoBlockBytes);
    std::memset(zeros.data(), 0, kInfoBlockBytes);
    size_t got = 0;
    // As ndctl: a failed read is not fatal, the zeros are written anyway.
    if (PreadFull(fd, current.data(), kInfoBlockBytes, 0, &got) == 0 && got == kInfoBlockBytes &&
        std::memcmp(zeros.data(), current.data(), kInfoBlockBytes) == 0) {
      return Status::Ok();
    }
    if (int err = PwriteAll(fd, zeros.data(), kInfoBlockBytes, 0); err != 0) {
      return ErrnoError(t.name + ": cannot clear the info block on " + path, err);
    }
    if (::fdatasync(fd) != 0) {
      return ErrnoError(t.name + ": cannot flush the cleared info block on " + path, errno);
    }
    return Status::Ok();
  }();
  ndctl_namespace_set_raw_mode(t.ndns, 0);
  ndctl_namespace_disable_invalidate(t.ndns);
  return result;
}

struct DaxPlan {
  unsigned long align = 0;
};

// validate_namespace_options() for -m devdax on an existing namespace: the alignment ndctl would
// pick and the size checks it makes.
Result<DaxPlan> PlanDevdax(Session& s, const Target& t, const NsState& st) {
  struct ndctl_dax* seed = ndctl_region_get_dax_seed(t.region);
  if (seed == nullptr) {
    return s.Fail(Code::kUnsupported, t.region_name +
                                          " offers no device-dax seed: the kernel lacks device-dax "
                                          "support for pmem (load dax_pmem, CONFIG_DEV_DAX_PMEM)");
  }
  DaxPlan plan;
  // Reconfiguring devdax to devdax keeps the namespace's alignment, else the seed's default.
  if (st.mode == PmemMode::kDevdax && st.dax.dax != nullptr) {
    plan.align = ndctl_dax_get_align(st.dax.dax);
  } else {
    plan.align = ndctl_dax_get_align(seed);
  }
  unsigned long page = static_cast<unsigned long>(::sysconf(_SC_PAGE_SIZE));
  if (plan.align == 0 || plan.align == ULONG_MAX) plan.align = page;
  // Fall back to a page alignment when the region itself is not aligned to the default.
  unsigned long long resource = ndctl_region_get_resource(t.region);
  if (resource != ULLONG_MAX && (resource & (plan.align - 1)) != 0) plan.align = page;

  uint64_t size = ndctl_namespace_get_size(t.ndns);
  unsigned long region_align = ndctl_region_get_align(t.region);
  if (region_align != 0 && region_align != ULONG_MAX && size % region_align != 0) {
    return InvalidArgument(t.name + ": its size " + std::to_string(size) +
                           " is not a multiple of " + t.region_name + "'s alignment " +
                           std::to_string(region_align));
  }
  unsigned int ways = std::max(1u, ndctl_region_get_interleave_ways(t.region));
  if (size % (static_cast<uint64_t>(plan.align) * ways) != 0) {
    return InvalidArgument(t.name + ": its size " + std::to_string(size) +
                           " is not a multiple of the device-dax alignment " +
                           std::to_string(plan.align) + " x " + std::to_string(ways) +
                           " interleave ways; resize the memmap= reservation or namespace");
  }
  if (size < kMinDaxBytes) {
    return InvalidArgument(t.name +
                           " is smaller than 16 MiB, the least the kernel accepts for "
                           "devdax mode");
  }
  return plan;
}

// setup_namespace() for -m devdax -M mem: configure the region's dax seed and enable it.
Status SetupDevdax(Session& s, const Target& t, const DaxPlan& plan) {
  struct ndctl_dax* dax = ndctl_region_get_dax_seed(t.region);
  if (dax == nullptr) {
    return s.Fail(Code::kNotFound, t.region_name + " lost its device-dax seed while " + t.name +
                                       " was reconfigured; " + t.name + " is left disabled");
  }
  std::string dax_name = ndctl_dax_get_devname(dax);
  auto fail = [&](const std::string& step, int rc) {
    return Hint(s.Error(t.name + ": " + dax_name + ": " + step, rc),
                t.name + " is left disabled; retry, or run 'ndctl create-namespace -f -e " +
                    t.name + " -m devdax -M mem'");
  };
  // Always the same for this namespace: it marks the info block as warmboot's, and an
  // /etc/daxctl.conf.d entry that matches the device by uuid keeps matching across cycles.
  Uuid uuid = WarmbootDaxUuid(NamespaceIdentity(t.ndns));
  int rc = ndctl_dax_set_uuid(dax, uuid.data());
  if (rc < 0) return fail("cannot set the uuid", rc);
  rc = ndctl_dax_set_location(dax, NDCTL_PFN_LOC_RAM);  // "map mem": struct pages in RAM
  if (rc < 0) return fail("cannot place the memmap in RAM", rc);
  rc = ndctl_dax_set_align(dax, plan.align);
  if (rc < 0) return fail("cannot set the alignment " + std::to_string(plan.align), rc);
  rc = ndctl_dax_set_namespace(dax, t.ndns);
  if (rc < 0) return fail("cannot attach it to " + t.name, rc);
  rc = ndctl_dax_enable(dax);
  if (rc < 0) {
    ndctl_dax_set_namespace(dax, nullptr);  // ndctl's autorecover
    return fail("cannot enable it", rc);
  }
  return Status::Ok();
}

}  // namespace

// `ndctl create-namespace -f -e <ns> -m raw` or `-m devdax -M mem`, step by step
// (ndctl/namespace.c: namespace_reconfig() = validate_namespace_options(),
// namespace_prep_reconfig(), setup_namespace()). Differences from ndctl, on purpose:
//  - the namespace keeps its uuid, name and size: ndctl would generate a new uuid and rewrite
//    the labels, which changes nothing warmboot relies on but costs label writes;
//  - no autolabel: ndctl would initialise labels on a label-less region of label-capable DIMMs
//    (enable_labels()), which destroys the existing namespace;
//  - it refuses while any memory block inside the namespace is online, even when no kmem
//    device owns it any more (leaked), where ndctl_namespace_disable_safe() would not see it.
Status NdctlPmemPlatform::ReconfigureNamespace(PmemMode mode) {
  if (mode != PmemMode::kRaw && mode != PmemMode::kDevdax) {
    return InvalidArgument(std::string("a namespace is reconfigured to raw or devdax, not ") +
                           PmemModeName(mode));
  }
  WB_ASSIGN_OR_RETURN(Located at, Open());
  auto& [s, t, st] = at;
  if (!ndctl_region_is_enabled(t.region)) {
    return InvalidArgument(t.region_name + " is disabled: enable it with 'ndctl enable-region " +
                           t.region_name + "'");
  }
  if (ndctl_region_get_ro(t.region) == 1) {
    return Status(Code::kPermission,
                  t.region_name + " is read-only: " + t.name + " cannot be reconfigured");
  }
  if (st.mode == PmemMode::kSystemRam) {
    return Status(Code::kBusy, t.name + " is busy: " + daxctl_dev_get_devname(st.dax.dev) +
                                   " is bound to kmem; offline its memory and unbind it first");
  }
  DaxPlan plan;
  if (mode == PmemMode::kDevdax) {
    WB_ASSIGN_OR_RETURN(plan, PlanDevdax(*s, t, st));
  }
  WB_RETURN_IF_ERROR(CheckNoSystemRam(t, st));

  // namespace_prep_reconfig(): disable safely (exclusive open of the block device, no dax
  // memory online), drop the claim, enforce raw, clear the info block.
  int rc = ndctl_namespace_disable_safe(t.ndns);
  if (rc < 0) {
    return Hint(s->Error(t.name + ": cannot disable it", rc),
                "it is in use (mounted, or its block device held open exclusively)");
  }
  // Not error-checked, as in ndctl: kernels before 4.13 lack holder_class.
  ndctl_namespace_set_enforce_mode(t.ndns, NDCTL_NS_MODE_RAW);
  WB_RETURN_IF_ERROR(ZeroInfoBlock(*s, t));

  // setup_namespace().
  ndctl_namespace_set_enforce_mode(
      t.ndns, mode == PmemMode::kRaw ? NDCTL_NS_MODE_RAW : NDCTL_NS_MODE_DEVDAX);
  if (mode == PmemMode::kDevdax) {
    WB_RETURN_IF_ERROR(SetupDevdax(*s, t, plan));
  } else {
    rc = ndctl_namespace_enable(t.ndns);
    if (rc < 0) {
      return Hint(
          s->Error(t.name + ": cannot enable it in raw mode", rc),
          t.name + " is left disabled; retry, or run 'ndctl enable-namespace " + t.name + "'");
    }
    if (rc > 0) {
      return s->Fail(Code::kIoError, t.name +
                                         " came back with a btt/pfn/dax personality "
                                         "although its info block was cleared");
    }
  }

  // Trust the devices, not the calls: look again through a fresh context, which caches
  // nothing from before the reconfiguration.
  s->log().Clear();
  WB_ASSIGN_OR_RETURN(auto fresh, Session::Open());
  WB_ASSIGN_OR_RETURN(Target again, FindNamespace(*fresh, t.name));
  NsState now = ReadState(again.ndns);
  if (now.mode != mode) {
    return fresh->Fail(Code::kIoError, t.name + " is in " + DescribeMode(now) + " mode after " +
                                           "reconfiguring it to " + PmemModeName(mode));
  }
  if (mode == PmemMode::kRaw && std::string(ndctl_namespace_get_block_device(again.ndns)).empty()) {
    return fresh->Fail(Code::kIoError, t.name + " is raw but shows no block device");
  }
  if (mode == PmemMode::kDevdax && now.dax.dev == nullptr) {
    return fresh->Fail(Code::kIoError, t.name + " is devdax but its dax device did not appear");
  }
  return Status::Ok();
}

// `ndctl enable-namespace` with raw enforced: a namespace that a failed reconfiguration or
// rename left disabled comes back as the raw block device, its contents untouched, so restore
// can look for an image on it and ToSystemRam can reconfigure it as usual.
Status NdctlPmemPlatform::EnableNamespace() {
  WB_ASSIGN_OR_RETURN(Located at, Open());
  auto& [s, t, st] = at;
  if (st.mode != PmemMode::kDisabled) return Status::Ok();
  if (!ndctl_region_is_enabled(t.region)) {
    return InvalidArgument(t.region_name + " is disabled: enable it with 'ndctl enable-region " +
                           t.region_name + "'");
  }
  ndctl_namespace_set_enforce_mode(t.ndns, NDCTL_NS_MODE_RAW);
  int rc = ndctl_namespace_enable(t.ndns);
  if (rc < 0) return s->Error(t.name + ": cannot enable it in raw mode", rc);
  s->log().Clear();
  WB_ASSIGN_OR_RETURN(auto fresh, Session::Open());
  WB_ASSIGN_OR_RETURN(Target again, FindNamespace(*fresh, t.name));
  NsState now = ReadState(again.ndns);
  if (now.mode == PmemMode::kDisabled) {
    return fresh->Fail(Code::kIoError, t.name + " is still disabled after enabling it");
  }
  return Status::Ok();
}

}  // namespace ndctl_internal
}  // namespace warmboot
