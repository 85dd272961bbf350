// What the pieces of the real PmemPlatform (libndctl/libdaxctl) share. Private to
// pmem/ndctl/*.cc; nothing outside them includes it. The seam is pmem/pmem.h; the one public
// entry point, OpenRealPmemPlatform, is in pmem/ndctl/platform.h.
//
//   platform.cc       NdctlPmemPlatform's namespace lookup, its raw media, and
//                     OpenRealPmemPlatform
//   session.cc        library contexts: Session, the captured library log, Hint
//   probe.cc          finding the namespace, reading its mode and dax device, Probe
//   memory_blocks.cc  memory blocks (sysfs), offline/online, the auto-online policy
//   dax_device.cc     binding the dax device to kmem or device_dax, and unbinding it
//   reconfigure.cc    namespace reconfiguration devdax <-> raw (ndctl create-namespace -f -e)
//   media_errors.cc   known bad ranges and clearing them (ndctl clear-errors)
//   labels.cc         the namespace label name
#pragma once

#include <daxctl/libdaxctl.h>
#include <ndctl/libndctl.h>

#include <cstdarg>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "media/media.h"
#include "pmem/pmem.h"
#include "util/status.h"

namespace warmboot {
namespace ndctl_internal {

// ---------------------------------------------------------------------------------------------
// Library contexts (session.cc).

// Collects the error lines libndctl/libdaxctl log, so a failing call's status can say what the
// library saw (they would otherwise go to stderr, detached from the error).
class LibLog {
 public:
  void Add(int priority, const char* format, va_list args);
  void Clear() { lines_.clear(); }
  // " (library: a; b)", or "" when the library said nothing.
  std::string Suffix() const;

 private:
  std::vector<std::string> lines_;
};

// One libndctl context (which owns the libdaxctl context ndctl_dax_get_daxctl_region() uses)
// with its log captured. Released with ndctl_unref.
class Session {
 public:
  static Result<std::unique_ptr<Session>> Open();
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  struct ndctl_ctx* ctx() const {
    return ctx_;
  }
  LibLog& log() { return log_; }

  // `what` failed with libndctl/libdaxctl return code `rc` (a negative errno).
  Status Error(const std::string& what, int rc);
  // A failure without an errno, with whatever the library logged.
  Status Fail(Code code, const std::string& what);

 private:
  explicit Session(struct ndctl_ctx* ctx);

  LibLog log_;  // outlives ctx_: declared first, destroyed last
  struct ndctl_ctx* ctx_;
};

// `s` with "; hint" appended to its message.
Status Hint(const Status& s, const std::string& hint);

// ---------------------------------------------------------------------------------------------
// Memory blocks (memory_blocks.cc).

Result<uint64_t> MemoryBlockSize();
Result<std::vector<MemoryBlockState>> BlocksIn(uint64_t start, uint64_t end, uint64_t block_size);
// The indices of the blocks that are online (or offline), at most a few dozen of them.
Result<std::vector<MemoryBlockState>> DaxBlocks(struct daxctl_dev* dev, uint64_t block_size);

// ---------------------------------------------------------------------------------------------
// The namespace and its personalities (probe.cc).

struct Target {
  struct ndctl_bus* bus = nullptr;
  struct ndctl_region* region = nullptr;
  struct ndctl_namespace* ndns = nullptr;
  std::string name;
  std::string region_name;
};

// Finds `wanted` (or, when empty, the only pmem namespace with capacity) on every bus/region.
Result<Target> FindNamespace(Session& s, const std::string& wanted);

// The namespace's device-dax claim and its /dev/daxX.Y instance.
struct DaxView {
  struct ndctl_dax* dax = nullptr;   // the nd "dax" claim on the namespace, if any
  bool claimed = false;              // that claim is enabled (dax_pmem bound)
  struct daxctl_dev* dev = nullptr;  // its device-dax instance, whatever driver it has
  bool enabled = false;              // dev is bound to a driver
  bool kmem = false;                 // ... and that driver is kmem: the memory is System RAM
};

struct NsState {
  PmemMode mode = PmemMode::kUnknown;
  struct ndctl_pfn* pfn = nullptr;  // fsdax claim
  DaxView dax;
  std::string detail;  // why kUnknown
};

NsState ReadState(struct ndctl_namespace* ndns);
std::string DescribeMode(const NsState& st);
// PmemInfo::identity: the label's namespace uuid, or "legacy@0x<start>" of an e820 namespace.
std::string NamespaceIdentity(struct ndctl_namespace* ndns);

// ---------------------------------------------------------------------------------------------

// The real PmemPlatform. Its calls are defined in the files listed at the top, one concept each.
class NdctlPmemPlatform : public PmemPlatform {
 public:
  explicit NdctlPmemPlatform(std::string name) : name_(std::move(name)) {}

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

 private:
  // How every call starts: a library session, the namespace it acts on, and its state.
  struct Located {
    std::unique_ptr<Session> s;
    Target t;
    NsState st;
  };
  Result<Located> Open();
  Result<Target> Locate(Session& s);
  static Result<std::vector<ByteRange>> BadRanges(Session& s, const Target& t, const NsState& st);
  Status ClearWithBusCommand(Session& s, const Target& t, const std::vector<ByteRange>& ranges);
  static Status ClearOne(Session& s, const Target& t, uint64_t phys, uint64_t len);
  static Status ClearByWriting(Session& s, const Target& t, const std::vector<ByteRange>& ranges);

  std::string name_;
};

}  // namespace ndctl_internal
}  // namespace warmboot
