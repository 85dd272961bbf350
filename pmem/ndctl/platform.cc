// The real PmemPlatform: one pmem namespace driven through libndctl and libdaxctl, step by step
// the way `ndctl create-namespace -f -e`, `ndctl clear-errors` and `daxctl reconfigure-device`
// do it. Every call opens a fresh library context, so nothing cached from an earlier call (or
// another process) can be stale. Sysfs is touched by hand only where the libraries have no call;
// each such place says so.
#include "pmem/ndctl/platform.h"

#include <ndctl/libndctl.h>

#include <memory>
#include <string>
#include <utility>

#include "media/media.h"
#include "pmem/ndctl/internal.h"
#include "pmem/pmem.h"
#include "util/status.h"

namespace warmboot {
namespace ndctl_internal {

// The configured namespace, or the only one (remembered, so later calls act on the same one).
Result<Target> NdctlPmemPlatform::Locate(Session& s) {
  WB_ASSIGN_OR_RETURN(Target t, FindNamespace(s, name_));
  if (name_.empty()) name_ = t.name;
  return t;
}

Result<NdctlPmemPlatform::Located> NdctlPmemPlatform::Open() {
  WB_ASSIGN_OR_RETURN(auto s, Session::Open());
  WB_ASSIGN_OR_RETURN(Target t, Locate(*s));
  NsState st = ReadState(t.ndns);
  return Located{std::move(s), std::move(t), st};
}

Result<std::unique_ptr<Media>> NdctlPmemPlatform::OpenRawMedia(OpenMode mode) {
  WB_ASSIGN_OR_RETURN(Located at, Open());
  auto& [s, t, st] = at;
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

}  // namespace ndctl_internal

Result<std::unique_ptr<PmemPlatform>> OpenRealPmemPlatform(const std::string& namespace_name) {
  // Fail early when the libraries cannot start at all; the namespace is looked up per call.
  WB_ASSIGN_OR_RETURN(auto session, ndctl_internal::Session::Open());
  (void)session;
  return std::unique_ptr<PmemPlatform>(new ndctl_internal::NdctlPmemPlatform(namespace_name));
}

}  // namespace warmboot
