// Loading and unloading the next kernel, and /sys/kernel/kexec_loaded, which says whether one
// is loaded.
#include <linux/kexec.h>

#include <cerrno>

#include "kexec/kexec.h"
#include "kexec/kexec_internal.h"
#include "util/strings.h"

namespace warmboot {

using namespace kexec_internal;

namespace {

// kexec_file_load with the plan's files: its errno, or a Status when a file cannot be opened.
Result<int> FileLoad(const KexecPlan& plan, KexecSystem& sys) {
  WB_ASSIGN_OR_RETURN(OpenedFile kernel, OpenImageFile(sys, "kernel", plan.kernel));
  OpenedFile initrd;
  if (!plan.initrd.empty()) {
    auto opened = OpenImageFile(sys, "initrd", plan.initrd);
    if (!opened.ok()) {
      sys.Close(kernel.fd);
      return opened.status();
    }
    initrd = *opened;
  }
  unsigned long flags = plan.initrd.empty() ? KEXEC_FILE_NO_INITRAMFS : 0;
  int err = sys.KexecFileLoad(kernel.fd, initrd.fd, plan.cmdline, flags);
  sys.Close(kernel.fd);
  if (initrd.fd >= 0) sys.Close(initrd.fd);
  return err;
}

}  // namespace

Result<KexecLoadReport> LoadKexec(const KexecPlan& plan, KexecSystem& sys) {
  KexecLoadReport report;
  int err = ENOSYS;  // as CheckKexecPlan found, when it chose kexec-tools
  if (plan.loader == KexecLoader::kFileLoad) {
    WB_ASSIGN_OR_RETURN(err, FileLoad(plan, sys));
  }
  if (err == ENOSYS || err == ENOEXEC) {
    // kexec-tools' kexec_load path: for kernels without kexec_file_load, and for image formats
    // only its userspace loaders understand (an ELF vmlinux, multiboot).
    KexecPlan with_tools = plan;
    if (with_tools.kexec_tools.empty()) with_tools.kexec_tools = sys.FindProgram("kexec");
    if (with_tools.kexec_tools.empty()) return KexecFileLoadError(err, with_tools, sys);
    if (Status may = KexecToolsMayLoad(plan, KexecFileLoadError(err, plan, sys).message());
        !may.ok()) {
      return may;
    }
    Status s = LoadWithKexecTools(with_tools, with_tools.kexec_tools, sys);
    if (!s.ok() && err == ENOEXEC) {
      return Status(s.code(), KexecFileLoadError(err, plan, sys).message() +
                                  "; kexec-tools could not load it either: " + s.message());
    }
    if (!s.ok()) {
      return s.WithContext("kexec_file_load unavailable (ENOSYS), and kexec-tools failed");
    }
    report.loader = KexecLoader::kKexecTools;
    report.note = std::string("kexec_file_load ") +
                  (err == ENOSYS ? "unavailable (ENOSYS)" : "could not load this image (ENOEXEC)") +
                  "; loaded with kexec-tools' " + with_tools.kexec_tools + " -l";
    if (uint64_t max = KexecToolsMemMax(plan)) {
      report.note += " below " + plan.legacy_pmem->name + " (--mem-max=" + Hex(max) + ")";
    }
  } else if (err != 0) {
    return KexecFileLoadError(err, plan, sys);
  }
  auto loaded = KexecLoaded(sys);
  if (!loaded.ok()) return loaded.status();
  if (!*loaded) {
    return NotFound(std::string("nothing loaded: ") + KexecLoaderName(report.loader) +
                    " reported success, but " + kKexecLoadedPath + " is 0");
  }
  return report;
}

Result<bool> KexecLoaded(KexecSystem& sys) {
  auto v = sys.ReadFile(kKexecLoadedPath);
  if (!v.ok()) {
    if (v.status().code() == Code::kNotFound) {
      return Unsupported("this kernel cannot kexec: " + std::string(kKexecLoadedPath) +
                         " is missing (built without CONFIG_KEXEC_CORE)");
    }
    return v.status();
  }
  std::string t = Trim(*v);
  if (t == "1") return true;
  if (t == "0") return false;
  return IoError(std::string(kKexecLoadedPath) + " holds '" + t + "', not 0 or 1");
}

Status VerifyKexecLoaded(KexecSystem& sys) {
  WB_ASSIGN_OR_RETURN(bool loaded, KexecLoaded(sys));
  if (!loaded) return NotFound("nothing loaded: " + std::string(kKexecLoadedPath) + " is 0");
  return Status::Ok();
}

Status UnloadKexec(KexecSystem& sys) {
  WB_ASSIGN_OR_RETURN(bool loaded, KexecLoaded(sys));
  if (!loaded) return Status::Ok();
  int err = sys.KexecFileLoad(-1, -1, "", KEXEC_FILE_UNLOAD);
  if (err == ENOSYS) {
    std::string kexec = sys.FindProgram("kexec");
    if (kexec.empty()) return KexecFileLoadError(ENOSYS, KexecPlan{}, sys);
    WB_RETURN_IF_ERROR(UnloadWithKexecTools(kexec, sys));
  } else if (err == EPERM) {
    return KexecFileLoadError(err, KexecPlan{}, sys);
  } else if (err != 0) {
    return ErrnoError("unloading the next kernel (KEXEC_FILE_UNLOAD)", err);
  }
  WB_ASSIGN_OR_RETURN(loaded, KexecLoaded(sys));
  if (loaded) {
    return IoError("the unload reported success, but " + std::string(kKexecLoadedPath) +
                   " is still 1");
  }
  return Status::Ok();
}

}  // namespace warmboot
