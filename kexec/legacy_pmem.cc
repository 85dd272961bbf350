// The two rules that keep a legacy pmem region (memmap=SIZE!ADDR) out of the next kernel's
// hands; see LegacyPmem in kexec/kexec.h.
//
// Why --mem-max is proof for kexec-tools (its kexec/kexec.c, read in horms/kexec-tools): every
// hole it looks for is clipped to [mem_min, mem_max], and after the image loader has placed all
// segments, and before kexec_load(2) is called, each segment is checked to lie inside
// [mem_min, mem_max] (valid_memory_segment: its last byte must not exceed mem_max); one that
// does not fails the load with "Invalid memory segment" and nothing is loaded. Both have been
// there since kexec-tools 1.101. Without it the x86 loaders place the kernel top-down in the
// RAM of /sys/firmware/memmap, where a memmap= region is still RAM.
#include <cstdio>

#include "kexec/kexec.h"
#include "kexec/kexec_internal.h"
#include "util/bytes.h"

namespace warmboot::kexec_internal {

std::string Hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

namespace {

std::string Describe(const PhysRange& r) {
  return Hex(r.start) + "-" + Hex(r.end() - 1) + " (" + HumanBytes(r.size) + ")";
}

bool Covers(const std::vector<PhysRange>& ranges, const PhysRange& r) {
  for (const PhysRange& x : ranges) {
    if (x.start <= r.start && x.end() >= r.end()) return true;
  }
  return false;
}

// The next kernel's region starts where the image does and holds all of it.
bool Keeps(const std::vector<PhysRange>& ranges, const PhysRange& r) {
  for (const PhysRange& x : ranges) {
    if (x.start == r.start && x.end() >= r.end()) return true;
  }
  return false;
}

// This kernel's memmap= parameter that reserves (part of) `r`, as written; else one that would.
std::string RunningParameter(const std::string& running, const PhysRange& r) {
  for (const std::string& token : SplitCmdline(running)) {
    if (token == "--") break;
    for (const PhysRange& x : LegacyPmemRanges(token)) {
      if (x.start < r.end() && r.start < x.end()) return token;
    }
  }
  return MemmapParameter(r);
}

}  // namespace

Status CheckKeepsLegacyPmem(const KexecPlan& plan, KexecSystem& sys) {
  if (!plan.legacy_pmem) return Status::Ok();
  const LegacyPmem& pmem = *plan.legacy_pmem;
  auto running = sys.ReadFile(kProcCmdlinePath);
  const std::vector<PhysRange> reserved_here =
      running.ok() ? LegacyPmemRanges(*running) : std::vector<PhysRange>{};
  std::vector<PhysRange> required;
  if (pmem.range.start != 0) {
    // Not reserved by this kernel's command line: the firmware's memory map made the region,
    // and kexec hands that map on.
    if (!running.ok() || Covers(reserved_here, pmem.range)) required.push_back(pmem.range);
  } else {
    required = reserved_here;  // its address unknown: every region memmap= makes here
  }
  const std::vector<PhysRange> planned = LegacyPmemRanges(plan.cmdline);
  for (const PhysRange& r : required) {
    if (Keeps(planned, r)) continue;
    const std::string param = running.ok() ? RunningParameter(*running, r) : MemmapParameter(r);
    std::string has = "no memmap= reserving legacy pmem";
    if (!planned.empty()) {
      has = "memmap= reserving only";
      for (const PhysRange& p : planned) has += " " + Describe(p);
    }
    return InvalidArgument(
        "the next kernel's command line does not keep the memmap= that protects the image: " +
        pmem.name + " is legacy pmem at " + Describe(r) + ", which " + param +
        " reserves on this kernel's command line, and the planned command line (" +
        (plan.cmdline_origin == kProcCmdlinePath ? "from /proc/cmdline" : "configured") + ") has " +
        has + ", so the next kernel would use the image's memory as RAM. Keep " + param +
        " in `cmdline` (or add it with `append`)");
  }
  return Status::Ok();
}

uint64_t KexecToolsMemMax(const KexecPlan& plan) {
  if (!plan.legacy_pmem || plan.legacy_pmem->range.start == 0) return 0;
  return plan.legacy_pmem->range.start - 1;
}

Status KexecToolsMayLoad(const KexecPlan& plan, const std::string& why) {
  if (!plan.legacy_pmem || plan.legacy_pmem->range.start != 0) return Status::Ok();
  return Unsupported(
      why + "; the kexec-tools fallback would load the next kernel over the pmem region of " +
      plan.legacy_pmem->name +
      ": it takes free memory from /sys/firmware/memmap, which memmap= does not change, and "
      "places the kernel top-down, and the region's physical address is unknown (sysfs shows it "
      "to root only), so it cannot be kept below it (--mem-max). Run a kernel with "
      "CONFIG_KEXEC_FILE and kexec a bzImage, or run as root so the address can be read");
}

}  // namespace warmboot::kexec_internal
