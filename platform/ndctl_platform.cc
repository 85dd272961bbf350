// The real PmemPlatform: one pmem namespace driven through libndctl and libdaxctl, step by step
// the way `ndctl create-namespace -f -e`, `ndctl clear-errors` and `daxctl reconfigure-device`
// do it. Every call opens a fresh library context, so nothing cached from an earlier call (or
// another process) can be stale. Sysfs is touched by hand only where the libraries have no call;
// each such place says so.
#include <daxctl/libdaxctl.h>
#include <fcntl.h>
#include <linux/ndctl.h>  // ND_DEVICE_* and ND_CMD_* (the uapi header libndctl itself builds on)
#include <ndctl/libndctl.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "image/aligned_buffer.h"
#include "image/unique_fd.h"
#include "platform/host_info.h"
#include "warmboot/media.h"
#include "warmboot/pmem.h"
#include "warmboot/status.h"

namespace warmboot {
namespace {

constexpr char kMemorySysfs[] = "/sys/devices/system/memory";
constexpr uint64_t kSector = 512;
// ndctl's zero_info_block() clears the first 8 KiB: the pfn/dax info block sits at 4 KiB, a BTT
// info block at 0 or 4 KiB.
constexpr size_t kInfoBlockBytes = 8192;
// The kernel refuses dax personalities on namespaces under 16 MiB (nd_namespace_store()).
constexpr uint64_t kMinDaxBytes = 16ull << 20;
// NSLABEL_NAME_LEN is 64 including the terminating NUL.
constexpr size_t kMaxLabelName = 63;
constexpr size_t kMaxListedBlocks = 32;

const char* ModeName(PmemMode mode) {
  switch (mode) {
    case PmemMode::kSystemRam:
      return "system-ram";
    case PmemMode::kDevdax:
      return "devdax";
    case PmemMode::kRaw:
      return "raw";
    case PmemMode::kFsdax:
      return "fsdax";
    case PmemMode::kUnknown:
      break;
  }
  return "unknown";
}

// ---------------------------------------------------------------------------------------------
// Library contexts.

// Collects the error lines libndctl/libdaxctl log, so a failing call's status can say what the
// library saw (they would otherwise go to stderr, detached from the error).
class LibLog {
 public:
  void Add(int priority, const char* format, va_list args) {
    char buf[512];
    std::vsnprintf(buf, sizeof(buf), format, args);
    std::string line(buf);
    while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) line.pop_back();
    if (priority > LOG_ERR) {
      // Debug output someone asked for with NDCTL_LOG/DAXCTL_LOG: pass it through.
      std::fprintf(stderr, "%s\n", line.c_str());
      return;
    }
    if (lines_.size() == 4) lines_.erase(lines_.begin());
    lines_.push_back(std::move(line));
  }
  void Clear() { lines_.clear(); }
  // " (library: a; b)", or "" when the library said nothing.
  std::string Suffix() const {
    if (lines_.empty()) return "";
    std::string out = " (library: ";
    for (size_t i = 0; i < lines_.size(); ++i) out += (i ? "; " : "") + lines_[i];
    return out + ")";
  }

 private:
  std::vector<std::string> lines_;
};

void NdctlLog(struct ndctl_ctx* ctx, int priority, const char*, int, const char*,
              const char* format, va_list args) {
  if (auto* log = static_cast<LibLog*>(ndctl_get_userdata(ctx))) log->Add(priority, format, args);
}

void DaxctlLog(struct daxctl_ctx* ctx, int priority, const char*, int, const char*,
               const char* format, va_list args) {
  if (auto* log = static_cast<LibLog*>(daxctl_get_userdata(ctx))) log->Add(priority, format, args);
}

// One libndctl context (which owns the libdaxctl context ndctl_dax_get_daxctl_region() uses)
// with its log captured. Released with ndctl_unref.
class Session {
 public:
  static Result<std::unique_ptr<Session>> Open() {
    struct ndctl_ctx* ctx = nullptr;
    int rc = ndctl_new(&ctx);
    if (rc < 0 || ctx == nullptr) {
      return ErrnoError("cannot initialize libndctl (it needs libudev and libkmod)",
                        rc < 0 ? -rc : ENXIO);
    }
    return std::unique_ptr<Session>(new Session(ctx));
  }
  ~Session() { ndctl_unref(ctx_); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  struct ndctl_ctx* ctx() const {
    return ctx_;
  }
  LibLog& log() { return log_; }

  // `what` failed with libndctl/libdaxctl return code `rc` (a negative errno).
  Status Error(const std::string& what, int rc) {
    int err = rc < 0 ? -rc : (rc > 0 ? rc : EIO);
    Status s = ErrnoError(what, err);
    Status out(s.code(), s.message() + log_.Suffix());
    log_.Clear();
    return out;
  }
  // A failure without an errno, with whatever the library logged.
  Status Fail(Code code, const std::string& what) {
    Status out(code, what + log_.Suffix());
    log_.Clear();
    return out;
  }

 private:
  explicit Session(struct ndctl_ctx* ctx) : ctx_(ctx) {
    ndctl_set_userdata(ctx_, &log_);
    ndctl_set_log_fn(ctx_, NdctlLog);
    if (struct daxctl_ctx* dctx = ndctl_get_daxctl_ctx(ctx_)) {
      daxctl_set_userdata(dctx, &log_);
      daxctl_set_log_fn(dctx, DaxctlLog);
    }
  }

  LibLog log_;  // outlives ctx_: declared first, destroyed last
  struct ndctl_ctx* ctx_;
};

struct CmdUnref {
  void operator()(struct ndctl_cmd* cmd) const { ndctl_cmd_unref(cmd); }
};
using CmdPtr = std::unique_ptr<struct ndctl_cmd, CmdUnref>;

Status Hint(const Status& s, const std::string& hint) {
  return Status(s.code(), s.message() + "; " + hint);
}

// ---------------------------------------------------------------------------------------------
// Sysfs reads and the memory block state libdaxctl does not expose.

Result<std::string> ReadAttr(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot read " + path, errno);
  UniqueFd guard(fd);
  char buf[4096];
  ssize_t n;
  do {
    n = ::read(fd, buf, sizeof(buf) - 1);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return ErrnoError("cannot read " + path, errno);
  std::string out(buf, static_cast<size_t>(n));
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

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

std::string ListBlocks(const std::vector<MemoryBlockState>& blocks, bool online) {
  std::string out;
  size_t n = 0, shown = 0;
  for (const MemoryBlockState& b : blocks) {
    if (b.online != online) continue;
    if (++n > kMaxListedBlocks) continue;
    out += (shown++ ? ", " : "") + std::to_string(b.index);
  }
  if (n > kMaxListedBlocks) out += " and " + std::to_string(n - kMaxListedBlocks) + " more";
  return out;
}

// ---------------------------------------------------------------------------------------------
// The namespace and its personalities.

struct Target {
  struct ndctl_bus* bus = nullptr;
  struct ndctl_region* region = nullptr;
  struct ndctl_namespace* ndns = nullptr;
  std::string name;
  std::string region_name;
};

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

// The namespace's device-dax claim and its /dev/daxX.Y instance.
struct DaxView {
  struct ndctl_dax* dax = nullptr;   // the nd "dax" claim on the namespace, if any
  bool claimed = false;              // that claim is enabled (dax_pmem bound)
  struct daxctl_dev* dev = nullptr;  // its device-dax instance, whatever driver it has
  bool enabled = false;              // dev is bound to a driver
  bool kmem = false;                 // ... and that driver is kmem: the memory is System RAM
};

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

struct NsState {
  PmemMode mode = PmemMode::kUnknown;
  struct ndctl_pfn* pfn = nullptr;  // fsdax claim
  DaxView dax;
  std::string detail;  // why kUnknown
};

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
    st.detail = "disabled";
  }
  return st;
}

std::string DescribeMode(const NsState& st) {
  return st.mode == PmemMode::kUnknown ? st.detail : ModeName(st.mode);
}

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
  std::string online = ListBlocks(blocks, true);
  if (online.empty()) return Status::Ok();
  return Status(Code::kBusy,
                "memory blocks " + online + " inside " + t.name + " are online System RAM" +
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
    ssize_t n;
    do {
      n = ::pread(fd, current.data(), kInfoBlockBytes, 0);
    } while (n < 0 && errno == EINTR);
    // As ndctl: a failed read is not fatal, the zeros are written anyway.
    if (n == static_cast<ssize_t>(kInfoBlockBytes) &&
        std::memcmp(zeros.data(), current.data(), kInfoBlockBytes) == 0) {
      return Status::Ok();
    }
    do {
      n = ::pwrite(fd, zeros.data(), kInfoBlockBytes, 0);
    } while (n < 0 && errno == EINTR);
    if (n != static_cast<ssize_t>(kInfoBlockBytes)) {
      return ErrnoError(t.name + ": cannot clear the info block on " + path, n < 0 ? errno : EIO);
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
  format::Uuid uuid = RandomUuid();
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

// ---------------------------------------------------------------------------------------------

class NdctlPmemPlatform : public PmemPlatform {
 public:
  explicit NdctlPmemPlatform(std::string name) : name_(std::move(name)) {}

  Result<PmemInfo> Probe() override {
    WB_ASSIGN_OR_RETURN(auto s, Session::Open());
    WB_ASSIGN_OR_RETURN(Target t, Locate(*s));
    NsState st = ReadState(t.ndns);
    PmemInfo info;
    info.name = t.name;
    info.region = t.region_name;
    info.mode = st.mode;
    info.size = ndctl_namespace_get_size(t.ndns);
    info.numa_node = ndctl_namespace_get_numa_node(t.ndns);
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
    return info;
  }

  // memory/auto_online_blocks is kernel policy with no libdaxctl setter (the library only reads
  // it in daxctl_dev_will_auto_online_memory()), so both directions use the sysfs file.
  Result<std::string> GetAutoOnlinePolicy() override {
    return ReadAttr(std::string(kMemorySysfs) + "/auto_online_blocks");
  }

  Status SetAutoOnlinePolicy(const std::string& policy) override {
    if (policy != "offline" && policy != "online" && policy != "online_movable" &&
        policy != "online_kernel") {
      return InvalidArgument("invalid auto_online_blocks policy '" + policy +
                             "' (offline, online, online_movable or online_kernel)");
    }
    std::string path = std::string(kMemorySysfs) + "/auto_online_blocks";
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0)
      return ErrnoError("cannot open " + path + " to set the policy (run as root)", errno);
    UniqueFd guard(fd);
    ssize_t n;
    do {
      n = ::write(fd, policy.data(), policy.size());
    } while (n < 0 && errno == EINTR);
    if (n != static_cast<ssize_t>(policy.size())) {
      return ErrnoError("cannot set " + path + " to " + policy, n < 0 ? errno : EIO);
    }
    return Status::Ok();
  }

  // daxctl offline-memory (daxctl/device.c: dev_offline_memory()): daxctl_memory_offline(), then
  // a count of what stayed online. libdaxctl stops at the first block that refuses, so the
  // blocks after it in its scan are not tried in this call; a retry tries them again.
  Status OfflineMemory() override {
    WB_ASSIGN_OR_RETURN(auto s, Session::Open());
    WB_ASSIGN_OR_RETURN(Target t, Locate(*s));
    NsState st = ReadState(t.ndns);
    if (st.mode != PmemMode::kSystemRam) {
      return InvalidArgument(t.name + " is in " + DescribeMode(st) +
                             " mode: no dax device bound to kmem, no memory to offline");
    }
    std::string dev = daxctl_dev_get_devname(st.dax.dev);
    struct daxctl_memory* mem = daxctl_dev_get_memory(st.dax.dev);
    int rc = mem != nullptr ? daxctl_memory_offline(mem) : -ENXIO;
    WB_ASSIGN_OR_RETURN(uint64_t block_size, MemoryBlockSize());
    WB_ASSIGN_OR_RETURN(auto blocks, DaxBlocks(st.dax.dev, block_size));
    std::string online = ListBlocks(blocks, true);
    if (online.empty()) {
      s->log().Clear();
      return Status::Ok();
    }
    // The kernel refuses an offline it may grant later (pages it could not migrate yet) with
    // EBUSY, EAGAIN, EINTR or ENOMEM: that is kBusy, worth a retry. Anything else is not.
    if (rc < 0 && rc != -EBUSY && rc != -EAGAIN && rc != -EINTR && rc != -ENOMEM) {
      Status err = s->Error(dev + ": offlining memory failed", rc);
      return Status(err.code(), err.message() + "; memory blocks " + online + " are still online");
    }
    std::string why = rc < 0 ? std::string(" (") + std::strerror(-rc) + ")" : std::string();
    return s->Fail(Code::kBusy, dev + ": memory blocks " + online +
                                    " still online: the kernel could not migrate their pages "
                                    "away" +
                                    why + "; retry, or free what pins that memory");
  }

  // daxctl online-memory (dev_online_memory()): daxctl_memory_online[_no_movable](), then check
  // every block is online and in the zone asked for.
  Status OnlineMemory(bool movable) override {
    WB_ASSIGN_OR_RETURN(auto s, Session::Open());
    WB_ASSIGN_OR_RETURN(Target t, Locate(*s));
    NsState st = ReadState(t.ndns);
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
    std::string offline = ListBlocks(blocks, false);
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
                     dev + ": memory blocks " + ListBlocks(wrong, true) +
                         " are online but not in " + zone + " (zone " + wrong.front().zone +
                         "): another agent onlined them first; set memory/auto_online_blocks to "
                         "offline and check for udev rules that online memory");
    }
    s->log().Clear();
    return Status::Ok();
  }

  // daxctl disable-device: daxctl_dev_disable(). For kmem this is the hot-remove; the kernel
  // lets it happen even with blocks online (they stay in use, leaked).
  Status DisableDax() override {
    WB_ASSIGN_OR_RETURN(auto s, Session::Open());
    WB_ASSIGN_OR_RETURN(Target t, Locate(*s));
    NsState st = ReadState(t.ndns);
    if (st.mode != PmemMode::kSystemRam && st.mode != PmemMode::kDevdax) {
      return InvalidArgument(t.name + " has no dax device (it is in " + DescribeMode(st) +
                             " mode)");
    }
    if (st.dax.dev == nullptr) {
      return s->Fail(Code::kNotFound, t.name + ": " + ndctl_dax_get_devname(st.dax.dax) +
                                          " shows no device-dax instance");
    }
    std::string dev = daxctl_dev_get_devname(st.dax.dev);
    int rc = daxctl_dev_disable(st.dax.dev);
    if (rc < 0)
      return Hint(s->Error(dev + ": cannot unbind its driver", rc), "check 'daxctl list'");
    if (daxctl_dev_is_enabled(st.dax.dev)) {
      return s->Fail(Code::kBusy, dev + ": still bound to a driver after the unbind");
    }
    s->log().Clear();
    return Status::Ok();
  }

  // daxctl reconfigure-device -m system-ram|devdax (reconfig_mode_system_ram() /
  // reconfig_mode_devdax()): unbind the other driver if one is bound, then
  // daxctl_dev_enable_ram() / daxctl_dev_enable_devdax().
  Status EnableDax(PmemMode mode) override {
    if (mode != PmemMode::kSystemRam && mode != PmemMode::kDevdax) {
      return InvalidArgument(std::string("a dax device is enabled as devdax or system-ram, not ") +
                             ModeName(mode));
    }
    WB_ASSIGN_OR_RETURN(auto s, Session::Open());
    WB_ASSIGN_OR_RETURN(Target t, Locate(*s));
    NsState st = ReadState(t.ndns);
    if (st.mode != PmemMode::kSystemRam && st.mode != PmemMode::kDevdax) {
      return InvalidArgument(t.name + " has no dax device (it is in " + DescribeMode(st) +
                             " mode): reconfigure it to devdax first");
    }
    if (st.dax.dev == nullptr) {
      return s->Fail(Code::kNotFound, t.name + ": " + ndctl_dax_get_devname(st.dax.dax) +
                                          " shows no device-dax instance");
    }
    std::string dev = daxctl_dev_get_devname(st.dax.dev);
    bool want_ram = mode == PmemMode::kSystemRam;
    if (st.dax.enabled && st.dax.kmem == want_ram) return Status::Ok();
    WB_ASSIGN_OR_RETURN(uint64_t block_size, MemoryBlockSize());
    WB_ASSIGN_OR_RETURN(auto blocks, DaxBlocks(st.dax.dev, block_size));
    std::string online = ListBlocks(blocks, true);
    if (!online.empty()) {
      if (st.dax.kmem) {
        return Status(Code::kBusy, dev + ": memory blocks " + online +
                                       " are online; offline them before leaving system-ram mode");
      }
      // kmem cannot claim a range the kernel still uses.
      return Status(Code::kBusy, dev + ": memory blocks " + online +
                                     " are still in use by the kernel (leaked when kmem was "
                                     "unbound with them online); reboot to get them back");
    }
    if (st.dax.enabled) {
      int rc = daxctl_dev_disable(st.dax.dev);
      if (rc < 0) return s->Error(dev + ": cannot unbind its current driver", rc);
    }
    int rc = want_ram ? daxctl_dev_enable_ram(st.dax.dev) : daxctl_dev_enable_devdax(st.dax.dev);
    if (rc < 0) {
      Status err = s->Error(dev + (want_ram ? ": cannot bind kmem (hot-plug its memory)"
                                            : ": cannot bind device_dax"),
                            rc);
      return want_ram ? Hint(err, "is the kmem module available ('modprobe kmem')?") : err;
    }
    bool kmem = daxctl_dev_get_memory(st.dax.dev) != nullptr;
    if (!daxctl_dev_is_enabled(st.dax.dev) || kmem != want_ram) {
      return s->Fail(Code::kIoError, dev + ": not bound to " + (want_ram ? "kmem" : "device_dax") +
                                         " after enabling it");
    }
    s->log().Clear();
    return Status::Ok();
  }

  // `ndctl create-namespace -f -e <ns> -m raw` or `-m devdax -M mem`, step by step
  // (ndctl/namespace.c: namespace_reconfig() = validate_namespace_options(),
  // namespace_prep_reconfig(), setup_namespace()). Differences from ndctl, on purpose:
  //  - the namespace keeps its uuid, name and size: ndctl would generate a new uuid and rewrite
  //    the labels, which changes nothing warmboot relies on but costs label writes;
  //  - no autolabel: ndctl would initialise labels on a label-less region of label-capable DIMMs
  //    (enable_labels()), which destroys the existing namespace;
  //  - it refuses while any memory block inside the namespace is online, even when no kmem
  //    device owns it any more (leaked), where ndctl_namespace_disable_safe() would not see it.
  Status ReconfigureNamespace(PmemMode mode) override {
    if (mode != PmemMode::kRaw && mode != PmemMode::kDevdax) {
      return InvalidArgument(std::string("a namespace is reconfigured to raw or devdax, not ") +
                             ModeName(mode));
    }
    WB_ASSIGN_OR_RETURN(auto s, Session::Open());
    WB_ASSIGN_OR_RETURN(Target t, Locate(*s));
    NsState st = ReadState(t.ndns);
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
                                             "reconfiguring it to " + ModeName(mode));
    }
    if (mode == PmemMode::kRaw &&
        std::string(ndctl_namespace_get_block_device(again.ndns)).empty()) {
      return fresh->Fail(Code::kIoError, t.name + " is raw but shows no block device");
    }
    if (mode == PmemMode::kDevdax && now.dax.dev == nullptr) {
      return fresh->Fail(Code::kIoError, t.name + " is devdax but its dax device did not appear");
    }
    return Status::Ok();
  }

  Result<std::unique_ptr<Media>> OpenRawMedia(OpenMode mode) override {
    WB_ASSIGN_OR_RETURN(auto s, Session::Open());
    WB_ASSIGN_OR_RETURN(Target t, Locate(*s));
    NsState st = ReadState(t.ndns);
    if (st.mode != PmemMode::kRaw) {
      return InvalidArgument(t.name + " is in " + DescribeMode(st) +
                             " mode, not raw: no raw block device to open");
    }
    std::string bdev = ndctl_namespace_get_block_device(t.ndns);
    if (bdev.empty()) return s->Fail(Code::kNotFound, t.name + " is raw but shows no block device");
    WB_ASSIGN_OR_RETURN(auto bad, BadRanges(*s, t, st));
    FileMediaOptions options;
    options.mode = mode == OpenMode::kCreate ? OpenMode::kReadWrite : mode;
    WB_ASSIGN_OR_RETURN(std::unique_ptr<Media> media, OpenFileMedia("/dev/" + bdev, options));
    media->SetKnownBadRanges(std::move(bad));
    return media;
  }

  Result<std::vector<ByteRange>> KnownBadRanges() override {
    WB_ASSIGN_OR_RETURN(auto s, Session::Open());
    WB_ASSIGN_OR_RETURN(Target t, Locate(*s));
    return BadRanges(*s, t, ReadState(t.ndns));
  }

  // `ndctl clear-errors` (namespace_clear_bb()) where the bus has the ACPI NFIT clear-error
  // command; on legacy e820 pmem, which has no bus commands, writing through the block device
  // is what clears: the pmem driver drops the bad sectors as it writes them
  // (nvdimm_clear_poison() treats a bus without ->ndctl as "handled").
  Status ClearErrors(const std::vector<ByteRange>& ranges) override {
    if (ranges.empty()) return Status::Ok();
    WB_ASSIGN_OR_RETURN(auto s, Session::Open());
    WB_ASSIGN_OR_RETURN(Target t, Locate(*s));
    NsState st = ReadState(t.ndns);
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

  // The kernel takes a new name (alt_name) only while the namespace is disabled and unclaimed
  // (__alt_name_store() returns -EBUSY otherwise), which is also when ndctl sets it
  // (setup_namespace()). Disabling it here would pull the block device from under whoever has
  // it open, so an enabled namespace is refused instead.
  Status SetLabelName(const std::string& name) override {
    if (name.size() > kMaxLabelName) {
      return InvalidArgument("a namespace label name holds at most 63 bytes, not " +
                             std::to_string(name.size()));
    }
    WB_ASSIGN_OR_RETURN(auto s, Session::Open());
    WB_ASSIGN_OR_RETURN(Target t, Locate(*s));
    if (ndctl_namespace_get_type(t.ndns) != ND_DEVICE_NAMESPACE_PMEM) {
      return Unsupported(t.name + " has no label (legacy/e820 pmem): it cannot record a name");
    }
    NsState st = ReadState(t.ndns);
    const char* current = ndctl_namespace_get_alt_name(t.ndns);
    if (current != nullptr && name == current) return Status::Ok();
    // The kernel renames a namespace only while it is disabled and unclaimed: a raw namespace
    // is taken down for the rename and brought back (disable_safe refuses while it is in use).
    bool reenable = false;
    if (ndctl_namespace_is_active(t.ndns)) {
      if (st.mode != PmemMode::kRaw) {
        return Status(Code::kBusy, t.name + " is enabled in " + DescribeMode(st) +
                                       " mode: it can be named only while raw or disabled");
      }
      int rc = ndctl_namespace_disable_safe(t.ndns);
      if (rc < 0) return s->Error(t.name + ": cannot disable it to record its name", rc);
      reenable = true;
    }
    int rc = ndctl_namespace_set_alt_name(t.ndns, name.c_str());
    Status result = rc < 0 ? s->Error(t.name + ": cannot set its label name to '" + name + "'", rc)
                           : Status::Ok();
    if (reenable) {
      int en = ndctl_namespace_enable(t.ndns);
      if (en < 0 && result.ok()) result = s->Error(t.name + ": cannot enable it after naming", en);
    }
    s->log().Clear();
    return result;
  }

 private:
  // The configured namespace, or the only one (remembered, so later calls act on the same one).
  Result<Target> Locate(Session& s) {
    WB_ASSIGN_OR_RETURN(Target t, FindNamespace(s, name_));
    if (name_.empty()) name_ = t.name;
    return t;
  }

  // Known bad ranges relative to the namespace start. In raw mode libndctl's namespace list is
  // /sys/block/pmemX/badblocks, relative to the namespace; with a dax or pfn claim it lists
  // nothing (or is relative to the data offset), so the region's list is used, clipped to the
  // namespace.
  static Result<std::vector<ByteRange>> BadRanges(Session& s, const Target& t, const NsState& st) {
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
  Status ClearWithBusCommand(Session& s, const Target& t, const std::vector<ByteRange>& ranges) {
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

  static Status ClearOne(Session& s, const Target& t, uint64_t phys, uint64_t len) {
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
    if (!clear)
      return s.Fail(Code::kUnsupported, where + ": the bus refused a CLEAR_ERROR command");
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
  static Status ClearByWriting(Session& s, const Target& t, const std::vector<ByteRange>& ranges) {
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
        ssize_t w = ::pwrite(fd, zeros.data(), n, static_cast<off_t>(pos));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
          return ErrnoError(t.name + ": cannot write over the bad sectors at offset " +
                                std::to_string(pos) + " of " + path,
                            w < 0 ? errno : EIO);
        }
        pos += static_cast<uint64_t>(w);
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

  std::string name_;
};

}  // namespace

Result<std::unique_ptr<PmemPlatform>> OpenRealPmemPlatform(const std::string& namespace_name) {
  // Fail early when the libraries cannot start at all; the namespace is looked up per call.
  WB_ASSIGN_OR_RETURN(auto session, Session::Open());
  (void)session;
  return std::unique_ptr<PmemPlatform>(new NdctlPmemPlatform(namespace_name));
}

}  // namespace warmboot
