// The checks preserve runs in its plan phase, before its point of no return: everything about
// a kexec that can be known without loading a kernel.
#include <cerrno>

#include "kexec/kexec.h"
#include "kexec/kexec_internal.h"
#include "util/strings.h"

namespace warmboot {
namespace kexec_internal {

Result<OpenedFile> OpenImageFile(KexecSystem& sys, const std::string& what,
                                 const std::string& path) {
  OpenedFile f;
  int err = sys.Open(path, &f);
  if (err == ENOENT || err == ENOTDIR) return NotFound(what + " " + path + " does not exist");
  if (err == EACCES || err == EPERM) {
    return Status(Code::kPermission, "cannot read " + what + " " + path + ": permission denied");
  }
  if (err != 0) return ErrnoError("cannot open " + what + " " + path, err);
  Status bad;
  if (!f.regular) {
    bad = InvalidArgument(what + " " + path + " is not a regular file");
  } else if (f.size == 0) {
    bad = InvalidArgument(what + " " + path + " is empty");
  }
  if (!bad.ok()) {
    sys.Close(f.fd);
    return bad;
  }
  return f;
}

bool KexecLoadDisabled(KexecSystem& sys) {
  auto v = sys.ReadFile(kLoadDisabledPath);
  return v.ok() && Trim(*v) == "1";
}

std::string LockdownLevel(KexecSystem& sys) {
  // "none [integrity] confidentiality": the bracketed one is in force.
  auto v = sys.ReadFile(kLockdownPath);
  if (!v.ok()) return "";
  size_t b = v->find('['), e = v->find(']');
  if (b == std::string::npos || e == std::string::npos || e < b) return "";
  return v->substr(b + 1, e - b - 1);
}

}  // namespace kexec_internal

using namespace kexec_internal;

Status CheckKexecPlan(KexecPlan* plan, KexecSystem& sys) {
  auto kernel = OpenImageFile(sys, "kernel", plan->kernel);
  if (!kernel.ok()) {
    if (kernel.status().code() != Code::kNotFound || !plan->default_kernel) return kernel.status();
    return NotFound(kernel.status().message() +
                    " (the default: /boot/vmlinuz-$(uname -r)); name the next kernel with "
                    "`kernel =` in the configuration");
  }
  sys.Close(kernel->fd);
  if (!plan->initrd.empty()) {
    WB_ASSIGN_OR_RETURN(OpenedFile i, OpenImageFile(sys, "initrd", plan->initrd));
    sys.Close(i.fd);
  }
  if (plan->cmdline.size() > kMaxKexecCmdline) {
    return InvalidArgument("the command line is " + std::to_string(plan->cmdline.size()) +
                           " characters; the kernel takes at most " +
                           std::to_string(kMaxKexecCmdline) + " through kexec (COMMAND_LINE_SIZE " +
                           std::to_string(kCommandLineSize) + ", less room kexec keeps)");
  }
  WB_RETURN_IF_ERROR(CheckKeepsLegacyPmem(*plan, sys));
  if (!sys.HasBootCapability()) {
    return Status(Code::kPermission, "kexec needs root (CAP_SYS_BOOT)");
  }
  if (auto loaded = sys.ReadFile(kKexecLoadedPath); !loaded.ok()) {
    return Unsupported("this kernel cannot kexec: " + std::string(kKexecLoadedPath) +
                       " is missing (built without CONFIG_KEXEC_CORE)");
  }
  if (KexecLoadDisabled(sys)) {
    return Status(Code::kPermission,
                  "kexec is disabled on this machine (kernel.kexec_load_disabled = 1, which "
                  "stays set until the next boot)");
  }

  plan->kexec_tools = sys.FindProgram("kexec");
  int probe = sys.ProbeFileLoad();
  if (probe == ENOSYS) {
    if (plan->kexec_tools.empty()) return KexecFileLoadError(ENOSYS, *plan, sys);
    const std::string why = "kexec_file_load unavailable (ENOSYS: built without CONFIG_KEXEC_FILE)";
    WB_RETURN_IF_ERROR(KexecToolsMayLoad(*plan, why));
    plan->loader = KexecLoader::kKexecTools;
    plan->loader_note = why + "; " + plan->kexec_tools + " -l will load";
    if (uint64_t max = KexecToolsMemMax(*plan)) {
      plan->loader_note += " below " + plan->legacy_pmem->name + " (--mem-max=" + Hex(max) + ")";
    }
  } else if (probe == EPERM) {
    return KexecFileLoadError(EPERM, *plan, sys);
  } else {
    // EINVAL (the unknown flag refused: the call exists) or an answer the load itself will
    // explain.
    plan->loader = KexecLoader::kFileLoad;
  }
  return Status::Ok();
}

}  // namespace warmboot
