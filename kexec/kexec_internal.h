// Helpers shared by the kexec/*.cc files; not part of the library's interface.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "kexec/kexec.h"

namespace warmboot::kexec_internal {

inline constexpr const char* kKexecLoadedPath = "/sys/kernel/kexec_loaded";
inline constexpr const char* kLoadDisabledPath = "/proc/sys/kernel/kexec_load_disabled";
inline constexpr const char* kLockdownPath = "/sys/kernel/security/lockdown";
inline constexpr const char* kProcCmdlinePath = "/proc/cmdline";

// The command line without its `name` parameters (before a bare `--`), which go to *dropped.
std::string WithoutParam(const std::string& cmdline, std::string_view name,
                         std::vector<std::string>* dropped);

// The command line with `param` added as the last kernel parameter (before a bare `--`).
std::string WithParam(const std::string& cmdline, const std::string& param);

// The command line with `append`'s parameters it does not already have, each as it is written:
// kernel parameters as the last ones (WithParam), init's arguments (after append's bare `--`)
// at the end. The running command line carries the last warm reboot's append; adding it again
// at every warm reboot would grow the line until kexec refuses it.
std::string WithAppended(const std::string& cmdline, const std::string& append);
// Whether the kernel's own parameters (up to a bare "--"; init's arguments after it are not
// the kernel's to parse) pair their double quotes: next_arg() reads from an unpaired one to the
// end of the line as one value.
bool KernelQuotesPaired(const std::string& cmdline);

// Opens the kernel or the initrd (`what`), checking it is a readable, non-empty regular file;
// the error names the file. The caller closes the descriptor.
Result<OpenedFile> OpenImageFile(KexecSystem& sys, const std::string& what,
                                 const std::string& path);

// kernel.kexec_load_disabled is 1 (set once, it stays until the next boot).
bool KexecLoadDisabled(KexecSystem& sys);

// The kernel lockdown level ("none", "integrity", "confidentiality"), "" when unknown.
std::string LockdownLevel(KexecSystem& sys);

// The plan's command line keeps its legacy_pmem reserved (see LegacyPmem): every range this
// kernel's memmap= reserves for it has a memmap= in the plan reserving it from the same first
// byte. The region itself when its address is known and this kernel's command line reserves it
// (a region the firmware made needs nothing); every legacy pmem range of this kernel's command
// line when the address is unknown. InvalidArgument naming the missing parameter.
Status CheckKeepsLegacyPmem(const KexecPlan& plan, KexecSystem& sys);

// Whether kexec-tools may load the plan (`why`: why kexec_file_load will not): always without
// a legacy_pmem; with one only where its address is known (LoadWithKexecTools then passes
// --mem-max). kUnsupported saying what to do.
Status KexecToolsMayLoad(const KexecPlan& plan, const std::string& why);

// The highest address kexec-tools may load into: just below the legacy_pmem; 0 = no limit.
uint64_t KexecToolsMemMax(const KexecPlan& plan);

// kexec-tools' `kexec -c -l [--mem-max=M] KERNEL [--initrd=I] --command-line=C` (-c: the
// kexec_load syscall, as kexec_file_load is what could not load; --mem-max: KexecToolsMemMax).
Status LoadWithKexecTools(const KexecPlan& plan, const std::string& kexec, KexecSystem& sys);
// kexec-tools' `kexec -u`.
Status UnloadWithKexecTools(const std::string& kexec, KexecSystem& sys);

// "0x100000000".
std::string Hex(uint64_t v);

}  // namespace warmboot::kexec_internal
