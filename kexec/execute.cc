// The reboot into the loaded kernel. Only the CLI calls it, after the report is out.
#include <cerrno>

#include "kexec/kexec.h"

namespace warmboot {

Status ExecuteKexec(KexecSystem& sys) {
  WB_RETURN_IF_ERROR(VerifyKexecLoaded(sys));
  sys.Sync();
  int err = sys.RebootKexec();
  // Every way back here is a failure: the machine did not reboot.
  switch (err) {
    case 0:
      return IoError("reboot(LINUX_REBOOT_CMD_KEXEC) returned without rebooting");
    case EPERM:
      return Status(Code::kPermission, "kexec needs root (CAP_SYS_BOOT): the reboot was refused");
    case EINVAL:
      return NotFound("nothing loaded: reboot(LINUX_REBOOT_CMD_KEXEC) found no kernel to boot");
    default:
      return ErrnoError("reboot(LINUX_REBOOT_CMD_KEXEC)", err);
  }
}

}  // namespace warmboot
