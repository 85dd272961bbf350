// Media errors (poison): the namespace's known bad ranges, and clearing them the way
// `ndctl clear-errors` does, or by writing over them on legacy pmem.
#include <fcntl.h>
#include <linux/ndctl.h>  // ND_DEVICE_* and ND_CMD_* (the uapi header libndctl itself builds on)
#include <ndctl/libndctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "media/media.h"
#include "pmem/ndctl/internal.h"
#include "pmem/pmem.h"
#include "util/aligned_buffer.h"
#include "util/io.h"
#include "util/status.h"
#include "util/unique_fd.h"

namespace warmboot {
namespace ndctl_internal {

namespace {

constexpr uint64_t kSector = 512;

struct CmdUnref {
  void operator()(struct ndctl_cmd* cmd) const { ndctl_cmd_unref(cmd); }
};
using CmdPtr = std::unique_ptr<struct ndctl_cmd, CmdUnref>;

}  // namespace

Result<std::vector<ByteRange>> NdctlPmemPlatform::KnownBadRanges() {
  WB_ASSIGN_OR_RETURN(auto s, Session::Open());
  WB_ASSIGN_OR_RETURN(Target t, Locate(*s));
  return BadRanges(*s, t, ReadState(t.ndns));
}

// `ndctl clear-errors` (namespace_clear_bb()) where the bus has the ACPI NFIT clear-error
// command; on legacy e820 pmem, which has no bus commands, writing through the block device
// is what clears: the pmem driver drops the bad sectors as it writes them
// (nvdimm_clear_poison() treats a bus without ->ndctl as "handled").
Status NdctlPmemPlatform::ClearErrors(const std::vector<ByteRange>& ranges) {
  if (ranges.empty()) return Status::Ok();
  WB_ASSIGN_OR_RETURN(Located at, Open());
  auto& [s, t, st] = at;
  uint64_t size = ndctl_namespace_get_size(t.ndns);
  for (const ByteRange& r : ranges) {
    if (r.length == 0 || r.offset > size || r.length > size - r.offset) {
      return InvalidArgument("bad range at " + std::to_string(r.offset) + "+" +
                             std::to_string(r.length) + " is outside " + t.name + " (" +
                             std::to_string(size) + " bytes)");
    }
  }
  std::string provider = ndctl_bus_get_provider(t.bus);
  bool bus_clear = ndctl_bus_is_cmd_supported(t.bus, ND_CMD_ARS_CAP) &&
                   ndctl_bus_is_cmd_supported(t.bus, ND_CMD_CLEAR_ERROR);
  bool legacy = provider == "e820";
  if (!bus_clear && !legacy) {
    return Unsupported(t.name + " sits on bus '" + provider +
                       "', which has no clear-error command and is not legacy (e820) pmem: its "
                       "media errors cannot be cleared from here; see the platform's tools");
  }
  if (st.mode != PmemMode::kRaw) {
    return InvalidArgument(t.name + " is in " + DescribeMode(st) +
                           " mode: media errors are cleared in raw mode only");
  }
  return bus_clear ? ClearWithBusCommand(*s, t, ranges) : ClearByWriting(*s, t, ranges);
}

// Known bad ranges relative to the namespace start. In raw mode libndctl's namespace list is
// /sys/block/pmemX/badblocks, relative to the namespace; with a dax or pfn claim it lists
// nothing (or is relative to the data offset), so the region's list is used, clipped to the
// namespace.
Result<std::vector<ByteRange>> NdctlPmemPlatform::BadRanges(Session& s, const Target& t,
                                                            const NsState& st) {
  std::vector<ByteRange> out;
  struct badblock* bb;
  if (st.mode == PmemMode::kRaw) {
    ndctl_namespace_badblock_foreach(t.ndns, bb) {
      out.push_back({bb->offset * kSector, static_cast<uint64_t>(bb->len) * kSector});
    }
    s.log().Clear();
    return out;
  }
  uint64_t ns_start = ndctl_namespace_get_resource(t.ndns);
  uint64_t region_start = ndctl_region_get_resource(t.region);
  if (ns_start == ULLONG_MAX || region_start == ULLONG_MAX) {
    return Status(Code::kPermission, "cannot read the physical addresses of " + t.name + " and " +
                                         t.region_name + " (run as root)");
  }
  uint64_t ns_end = ns_start + ndctl_namespace_get_size(t.ndns);
  ndctl_region_badblock_foreach(t.region, bb) {
    uint64_t start = std::max<uint64_t>(region_start + bb->offset * kSector, ns_start);
    uint64_t end = std::min<uint64_t>(
        region_start + (bb->offset + static_cast<uint64_t>(bb->len)) * kSector, ns_end);
    if (start < end) out.push_back({start - ns_start, end - start});
  }
  s.log().Clear();
  return out;
}

// ndctl's raw_clear_badblocks() / nstype_clear_badblocks() / bus_send_clear(), for the given
// ranges instead of every bad block: wait for a running scrub, disable the namespace, send
// ARS_CAP + CLEAR_ERROR per range, enable the namespace again (which re-reads its bad blocks).
Status NdctlPmemPlatform::ClearWithBusCommand(Session& s, const Target& t,
                                              const std::vector<ByteRange>& ranges) {
  int scrub = ndctl_bus_get_scrub_state(t.bus);
  if (scrub < 0) return s.Error(t.name + ": cannot read the bus scrub state", scrub);
  if (scrub > 0) {
    int rc = ndctl_bus_wait_for_scrub_completion(t.bus);
    if (rc < 0) return s.Error(t.name + ": waiting for the running scrub failed", rc);
  }
  uint64_t ns_start = ndctl_namespace_get_resource(t.ndns);
  if (ns_start == ULLONG_MAX) {
    return Status(Code::kPermission,
                  "cannot read the physical address of " + t.name + " (run as root)");
  }
  int rc = ndctl_namespace_disable_safe(t.ndns);
  if (rc < 0) {
    return Hint(s.Error(t.name + ": cannot disable it to clear errors", rc),
                "close or unmount /dev/" + std::string(ndctl_namespace_get_block_device(t.ndns)));
  }
  Status result;
  for (const ByteRange& r : ranges) {
    result = ClearOne(s, t, ns_start + r.offset, r.length);
    if (!result.ok()) break;
  }
  rc = ndctl_namespace_enable(t.ndns);
  if (rc < 0) {
    Status en = s.Error(t.name + ": cannot enable it again after clearing errors", rc);
    return result.ok() ? Hint(en, "run 'ndctl enable-namespace " + t.name + "'")
                       : Status(result.code(), result.message() + "; and " + en.message());
  }
  if (!result.ok()) return result;
  s.log().Clear();
  return Status::Ok();
}

Status NdctlPmemPlatform::ClearOne(Session& s, const Target& t, uint64_t phys, uint64_t len) {
  const std::string where =
      t.name + ": clearing " + std::to_string(len) + " bytes at physical " + std::to_string(phys);
  CmdPtr cap(ndctl_bus_cmd_new_ars_cap(t.bus, phys, len));
  if (!cap) return s.Fail(Code::kUnsupported, where + ": the bus refused an ARS_CAP command");
  int rc = ndctl_cmd_submit_xlat(cap.get());
  if (rc < 0) return s.Error(where + ": ARS_CAP failed", rc);
  // The bus clears in whole units; widen the range to them.
  uint64_t unit = ndctl_cmd_ars_cap_get_clear_unit(cap.get());
  if (unit > 1 && ((phys | len) & (unit - 1)) != 0) {
    uint64_t start = phys & ~(unit - 1);
    uint64_t end = (phys + len + unit - 1) & ~(unit - 1);
    cap.reset(ndctl_bus_cmd_new_ars_cap(t.bus, start, end - start));
    if (!cap) return s.Fail(Code::kUnsupported, where + ": the bus refused an ARS_CAP command");
    rc = ndctl_cmd_submit_xlat(cap.get());
    if (rc < 0) return s.Error(where + ": ARS_CAP failed", rc);
  }
  struct ndctl_range range;
  if (ndctl_cmd_ars_cap_get_range(cap.get(), &range) != 0) {
    return s.Fail(Code::kIoError, where + ": no range in the ARS_CAP answer");
  }
  CmdPtr clear(ndctl_bus_cmd_new_clear_error(range.address, range.length, cap.get()));
  if (!clear) return s.Fail(Code::kUnsupported, where + ": the bus refused a CLEAR_ERROR command");
  rc = ndctl_cmd_submit_xlat(clear.get());
  if (rc < 0) return s.Error(where + ": CLEAR_ERROR failed", rc);
  unsigned long long cleared = ndctl_cmd_clear_error_get_cleared(clear.get());
  if (cleared != range.length) {
    return s.Fail(Code::kIoError, where + ": the platform cleared " + std::to_string(cleared) +
                                      " of " + std::to_string(range.length) + " bytes");
  }
  return Status::Ok();
}

// Legacy pmem: overwrite the bad sectors with zeros through the raw block device (O_DIRECT,
// whole sectors), then check the kernel no longer lists them.
Status NdctlPmemPlatform::ClearByWriting(Session& s, const Target& t,
                                         const std::vector<ByteRange>& ranges) {
  std::string path = "/dev/" + std::string(ndctl_namespace_get_block_device(t.ndns));
  int fd = ::open(path.c_str(), O_RDWR | O_DIRECT | O_CLOEXEC);
  if (fd < 0) return ErrnoError(t.name + ": cannot open " + path + " to clear errors", errno);
  UniqueFd guard(fd);
  constexpr size_t kChunk = 1 << 20;
  AlignedBuffer zeros(kChunk);
  std::memset(zeros.data(), 0, kChunk);
  uint64_t size = ndctl_namespace_get_size(t.ndns);
  for (const ByteRange& r : ranges) {
    uint64_t pos = r.offset / kSector * kSector;
    uint64_t end = std::min((r.end() + kSector - 1) / kSector * kSector, size);
    while (pos < end) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(kChunk, end - pos));
      if (int err = PwriteAll(fd, zeros.data(), n, pos); err != 0) {
        return ErrnoError(t.name + ": cannot write over the bad sectors at offset " +
                              std::to_string(pos) + " of " + path,
                          err);
      }
      pos += n;
    }
  }
  if (::fdatasync(fd) != 0) return ErrnoError(t.name + ": cannot flush " + path, errno);
  NsState st = ReadState(t.ndns);
  WB_ASSIGN_OR_RETURN(auto still, BadRanges(s, t, st));
  for (const ByteRange& b : still) {
    for (const ByteRange& r : ranges) {
      if (b.Overlaps(r.offset, r.length)) {
        return IoError(t.name + ": " + std::to_string(b.length) + " bytes at offset " +
                       std::to_string(b.offset) +
                       " are still listed as bad after writing over "
                       "them; run 'ndctl clear-errors " +
                       t.name + "'");
      }
    }
  }
  return Status::Ok();
}

}  // namespace ndctl_internal
}  // namespace warmboot
