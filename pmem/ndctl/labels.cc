// The name recorded in the namespace label (alt_name), on label-backed namespaces.
#include <linux/ndctl.h>  // ND_DEVICE_* and ND_CMD_* (the uapi header libndctl itself builds on)
#include <ndctl/libndctl.h>

#include <string>

#include "pmem/ndctl/internal.h"
#include "pmem/pmem.h"
#include "util/status.h"

namespace warmboot {
namespace ndctl_internal {

namespace {

// NSLABEL_NAME_LEN is 64 including the terminating NUL.
constexpr size_t kMaxLabelName = 63;

}  // namespace

// The kernel takes a new name (alt_name) only while the namespace is disabled and unclaimed
// (__alt_name_store() returns -EBUSY otherwise), which is also when ndctl sets it
// (setup_namespace()). A raw namespace is disabled for the rename and enabled again;
// ndctl_namespace_disable_safe() refuses while its block device is open or mounted. In any other
// mode (a dax device or System RAM hangs off it) the rename is refused.
Status NdctlPmemPlatform::SetLabelName(const std::string& name) {
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

}  // namespace ndctl_internal
}  // namespace warmboot
