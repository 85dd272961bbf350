// kexec_file_load's errors, each as a message that says what to do:
//
//   EPERM                      not root; kexec_load_disabled; lockdown; else an LSM or seccomp
//   EKEYREJECTED EKEYEXPIRED   the kernel requires signed kexec images (KEXEC_SIG / lockdown)
//   EKEYREVOKED EBADMSG ENOKEY
//   ENOEXEC                    not a kernel image kexec_file_load can load (x86-64: a bzImage)
//   EINVAL                     arguments refused: command line too long, an empty file
//   EBUSY                      another kexec load holds the kexec lock
//   ENOMEM                     no memory to stage the kernel and initrd
//   ENOSYS                     no kexec_file_load in this kernel (LoadKexec falls back to
//                              kexec-tools before this is an error)
//   anything else              "kexec_file_load(KERNEL): strerror"
#include <cerrno>
#include <cstring>

#include "kexec/kexec.h"
#include "kexec/kexec_internal.h"

namespace warmboot {

std::string ErrnoName(int err) {
  if (const char* name = strerrorname_np(err)) return name;
  return "errno " + std::to_string(err);
}

Status KexecFileLoadError(int err, const KexecPlan& plan, KexecSystem& sys) {
  const std::string what = ErrnoName(err) + ": " + std::strerror(err);
  const std::string files =
      plan.kernel + (plan.initrd.empty() ? "" : " (initrd " + plan.initrd + ")");
  switch (err) {
    case EPERM: {
      if (!sys.HasBootCapability())
        return Status(Code::kPermission, "kexec needs root (CAP_SYS_BOOT)");
      if (kexec_internal::KexecLoadDisabled(sys)) {
        return Status(Code::kPermission,
                      "kexec is disabled on this machine (kernel.kexec_load_disabled = 1, "
                      "which stays set until the next boot)");
      }
      std::string lockdown = kexec_internal::LockdownLevel(sys);
      if (!lockdown.empty() && lockdown != "none") {
        return Status(Code::kPermission,
                      "kernel lockdown (" + lockdown + ") refused to kexec " + plan.kernel + " (" +
                          what +
                          "): it loads only signed kernels; sign the kernel or disable "
                          "lockdown");
      }
      return Status(Code::kPermission, "the kernel refused kexec_file_load (" + what +
                                           ") although we are root: a security module or a "
                                           "seccomp filter forbids kexec");
    }
    case EKEYREJECTED:
    case EKEYEXPIRED:
    case EKEYREVOKED:
    case EBADMSG:
    case ENOKEY:
      return Status(Code::kPermission,
                    "the kernel requires signed kexec images (KEXEC_SIG/lockdown) and refused " +
                        plan.kernel + " (" + what + "); sign the kernel or disable lockdown");
    case ENOEXEC:
      return InvalidArgument(plan.kernel +
                             " is not a bootable kernel image kexec_file_load can "
                             "load (" +
                             what +
                             "); on x86-64 it takes a bzImage (vmlinuz), not an "
                             "ELF vmlinux or a compressed file");
    case EINVAL:
      return InvalidArgument("the kernel refused to load " + files + " (" + what +
                             "): the command line (" + std::to_string(plan.cmdline.size()) +
                             " characters) may be too long for this kernel, or a file is empty");
    case EBUSY:
      return Status(Code::kBusy, "another kexec load is in progress (" + what +
                                     ": the kexec lock is held); try again");
    case ENOMEM:
      return IoError("not enough memory to stage " + files + " for kexec (" + what + ")");
    case ENOSYS: {
      std::string m =
          "this kernel has no kexec_file_load (" + what + ": built without CONFIG_KEXEC_FILE)";
      if (plan.kexec_tools.empty()) {
        m += " and kexec-tools' kexec was not found in PATH, /sbin or /usr/sbin; install "
             "kexec-tools";
      }
      return Unsupported(m);
    }
    default:
      return Status(ErrnoError("", err).code(),
                    "kexec_file_load(" + files + ") failed (" + what + ")");
  }
}

}  // namespace warmboot
