// Helpers shared by the kexec/*.cc files; not part of the library's interface.
#pragma once

#include <string>

#include "kexec/kexec.h"

namespace warmboot::kexec_internal {

inline constexpr const char* kKexecLoadedPath = "/sys/kernel/kexec_loaded";
inline constexpr const char* kLoadDisabledPath = "/proc/sys/kernel/kexec_load_disabled";
inline constexpr const char* kLockdownPath = "/sys/kernel/security/lockdown";
inline constexpr const char* kProcCmdlinePath = "/proc/cmdline";

// Opens the kernel or the initrd (`what`), checking it is a readable, non-empty regular file;
// the error names the file. The caller closes the descriptor.
Result<OpenedFile> OpenImageFile(KexecSystem& sys, const std::string& what,
                                 const std::string& path);

// kernel.kexec_load_disabled is 1 (set once, it stays until the next boot).
bool KexecLoadDisabled(KexecSystem& sys);

// The kernel lockdown level ("none", "integrity", "confidentiality"), "" when unknown.
std::string LockdownLevel(KexecSystem& sys);

// kexec-tools' `kexec -c -l KERNEL [--initrd=I] --command-line=C` (-c: the kexec_load syscall,
// as kexec_file_load is what could not load).
Status LoadWithKexecTools(const KexecPlan& plan, const std::string& kexec, KexecSystem& sys);
// kexec-tools' `kexec -u`.
Status UnloadWithKexecTools(const std::string& kexec, KexecSystem& sys);

// Leading and trailing whitespace removed.

}  // namespace warmboot::kexec_internal
