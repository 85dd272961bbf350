// Finding the namespace and reading what it is: its mode, its claims, its device-dax instance;
// and Probe(), which reports all of it.
#include <blkid/blkid.h>
#include <daxctl/libdaxctl.h>
#include <linux/ndctl.h>  // ND_DEVICE_* and ND_CMD_* (the uapi header libndctl itself builds on)
#include <ndctl/libndctl.h>

#include <climits>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "pmem/ndctl/internal.h"
#include "pmem/pmem.h"
#include "util/status.h"
#include "util/uuid.h"

namespace warmboot {
namespace ndctl_internal {

// Finds `wanted` (or, when empty, the only pmem namespace with capacity) on every bus/region.
Result<Target> FindNamespace(Session& s, const std::string& wanted) {
  std::vector<Target> all;
  struct ndctl_bus* bus;
  ndctl_bus_foreach(s.ctx(), bus) {
    struct ndctl_region* region;
    ndctl_region_foreach(bus, region) {
      if (ndctl_region_get_type(region) != ND_DEVICE_REGION_PMEM) continue;
      struct ndctl_namespace* ndns;
      ndctl_namespace_foreach(region, ndns) {
        Target t{bus, region, ndns, ndctl_namespace_get_devname(ndns),
                 ndctl_region_get_devname(region)};
        if (!wanted.empty() && t.name == wanted) {
          if (ndctl_namespace_get_size(ndns) == 0) {
            return NotFound(wanted +
                            " has no capacity (an unconfigured label seed); create it "
                            "with 'ndctl create-namespace'");
          }
          return t;
        }
        // Size-0 namespaces are the seeds labeled regions keep for creating new ones.
        if (ndctl_namespace_get_size(ndns) > 0) all.push_back(std::move(t));
      }
    }
  }
  std::string names;
  for (const Target& t : all) names += (names.empty() ? "" : ", ") + t.name;
  if (!wanted.empty()) {
    return NotFound("pmem namespace " + wanted + " not found" +
                    (names.empty() ? std::string(": no pmem namespace found on this machine")
                                   : "; the pmem namespaces here are " + names));
  }
  if (all.empty()) {
    return NotFound(
        "no pmem namespace found (nothing under /sys/bus/nd/devices): reserve persistent memory "
        "with memmap=SIZE!ADDR on the kernel command line, or attach an NVDIMM (QEMU: "
        "-machine nvdimm=on -device nvdimm), then check 'ndctl list -N'");
  }
  if (all.size() > 1) {
    return InvalidArgument("more than one pmem namespace (" + names +
                           "): name the one warmboot should use");
  }
  return all.front();
}

namespace {

DaxView FindDax(struct ndctl_namespace* ndns) {
  DaxView v;
  v.dax = ndctl_namespace_get_dax(ndns);
  if (v.dax == nullptr || !ndctl_dax_is_enabled(v.dax)) return v;
  v.claimed = true;
  struct daxctl_region* region = ndctl_dax_get_daxctl_region(v.dax);
  if (region == nullptr) return v;
  struct daxctl_dev* dev;
  daxctl_dev_foreach(region, dev) {
    if (daxctl_dev_get_size(dev) == 0) continue;  // a dynamic region's idle seed
    v.dev = dev;
    v.enabled = daxctl_dev_is_enabled(dev) != 0;
    // libdaxctl hands out a memory object only for a device bound to kmem.
    v.kmem = v.enabled && daxctl_dev_get_memory(dev) != nullptr;
    break;
  }
  return v;
}

}  // namespace

// The mode as the devices show it. The namespace's "mode" attribute is not used: on e820
// (ND_REGION_PAGEMAP) regions it reads "memory" for a namespace with no claim at all, which is
// the raw full-size /dev/pmemX (ndctl's JSON then says fsdax).
NsState ReadState(struct ndctl_namespace* ndns) {
  NsState st;
  struct ndctl_btt* btt = ndctl_namespace_get_btt(ndns);
  st.pfn = ndctl_namespace_get_pfn(ndns);
  st.dax = FindDax(ndns);
  if (btt != nullptr && ndctl_btt_is_enabled(btt)) {
    st.detail = "sector mode (btt)";
  } else if (st.pfn != nullptr && ndctl_pfn_is_enabled(st.pfn)) {
    st.mode = PmemMode::kFsdax;
  } else if (st.dax.claimed) {
    st.mode = st.dax.kmem ? PmemMode::kSystemRam : PmemMode::kDevdax;
  } else if (ndctl_namespace_is_enabled(ndns)) {
    st.mode = PmemMode::kRaw;
  } else {
    st.mode = PmemMode::kDisabled;
  }
  return st;
}

std::string NamespaceIdentity(struct ndctl_namespace* ndns) {
  if (ndctl_namespace_get_type(ndns) == ND_DEVICE_NAMESPACE_PMEM) {
    Uuid u{};
    ndctl_namespace_get_uuid(ndns, u.data());
    return UuidToString(u);
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "legacy@0x%llx", ndctl_namespace_get_resource(ndns));
  return buf;
}

namespace {

// What a superblock probe finds on the raw device: a filesystem, swap, a RAID or LVM member,
// anything libblkid knows ("" for none, or when it cannot be read).
std::string ProbeSignature(const std::string& device) {
  blkid_probe pr = blkid_new_probe_from_filename(device.c_str());
  if (pr == nullptr) return "";
  blkid_probe_enable_superblocks(pr, 1);
  blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE);
  blkid_probe_enable_partitions(pr, 1);
  std::string found;
  if (blkid_do_safeprobe(pr) == 0) {
    const char* v = nullptr;
    if (blkid_probe_lookup_value(pr, "TYPE", &v, nullptr) == 0 && v != nullptr) {
      found = v;
    } else if (blkid_probe_lookup_value(pr, "PTTYPE", &v, nullptr) == 0 && v != nullptr) {
      found = std::string(v) + " partition table";
    }
  }
  blkid_free_probe(pr);
  return found;
}

}  // namespace

std::string DescribeMode(const NsState& st) {
  return st.mode == PmemMode::kUnknown ? st.detail : PmemModeName(st.mode);
}

Result<PmemInfo> NdctlPmemPlatform::Probe() {
  WB_ASSIGN_OR_RETURN(Located at, Open());
  auto& [s, t, st] = at;
  PmemInfo info;
  info.name = t.name;
  info.region = t.region_name;
  info.mode = st.mode;
  info.size = ndctl_namespace_get_size(t.ndns);
  info.numa_node = ndctl_namespace_get_numa_node(t.ndns);
  // kmem onlines into the dax device's target node (the ACPI proximity domain of the memory),
  // which on an NVDIMM is usually a node of its own, not the device's numa_node.
  info.target_node = st.dax.dev != nullptr ? daxctl_dev_get_target_node(st.dax.dev)
                                           : ndctl_namespace_get_target_node(t.ndns);
  if (st.mode == PmemMode::kRaw) {
    std::string bdev = ndctl_namespace_get_block_device(t.ndns);
    if (!bdev.empty()) info.block_device = "/dev/" + bdev;
  } else if (st.mode == PmemMode::kFsdax) {
    std::string bdev = ndctl_pfn_get_block_device(st.pfn);
    if (!bdev.empty()) info.block_device = "/dev/" + bdev;
  }
  if (st.dax.dev != nullptr) info.dax_device = daxctl_dev_get_devname(st.dax.dev);
  auto block_size = MemoryBlockSize();
  if (block_size.ok()) info.memory_block_size = *block_size;
  if (st.dax.dev != nullptr && st.mode == PmemMode::kSystemRam) {
    if (!block_size.ok()) return block_size.status();
    WB_ASSIGN_OR_RETURN(info.blocks, DaxBlocks(st.dax.dev, *block_size));
  } else if (st.dax.dev != nullptr && st.mode == PmemMode::kDevdax && block_size.ok()) {
    // In devdax mode a block present is one leaked by a kmem unbind with blocks online. Best
    // effort: reading the device's address needs root.
    auto leaked = DaxBlocks(st.dax.dev, *block_size);
    if (leaked.ok()) info.blocks = std::move(*leaked);
  }
  // A label-backed namespace (NVDIMM with a label area); legacy/e820 ones are "namespace_io".
  info.labeled = ndctl_namespace_get_type(t.ndns) == ND_DEVICE_NAMESPACE_PMEM;
  if (info.labeled) info.label_name = ndctl_namespace_get_alt_name(t.ndns);
  info.identity = NamespaceIdentity(t.ndns);
  if (st.dax.dax != nullptr && st.dax.claimed) ndctl_dax_get_uuid(st.dax.dax, info.dax_uuid.data());
  if (st.mode == PmemMode::kRaw && !info.block_device.empty()) {
    info.foreign_signature = ProbeSignature(info.block_device);
  }
  // ULLONG_MAX when sysfs would not say (the attribute is root's). A legacy namespace is its
  // whole region.
  unsigned long long phys = ndctl_namespace_get_resource(t.ndns);
  if (phys == ULLONG_MAX && !info.labeled) phys = ndctl_region_get_resource(t.region);
  if (phys != ULLONG_MAX) info.phys_start = phys;
  return info;
}

}  // namespace ndctl_internal
}  // namespace warmboot
