// kexec: load the next kernel and reboot into it without going through the firmware, so the
// pmem image written by preserve is still there for restore.
//
//   ResolveKexecPlan   which kernel, initrd and command line (config, then defaults)
//   CheckKexecPlan     everything that can be checked before preserve's point of no return
//   LoadKexec          kexec_file_load(2), or kexec-tools' `kexec -l` where that cannot load
//   UnloadKexec        rollback
//   ExecuteKexec       sync, then reboot(LINUX_REBOOT_CMD_KEXEC); returns only on failure
//
// Every system call goes through KexecSystem, so the tests drive all of it over a fake and never
// load or reboot anything (LevelDB's Env, for kexec).
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "util/status.h"

namespace warmboot {

// ---------------------------------------------------------------------------------------------
// The seam.

struct OpenedFile {
  int fd = -1;
  bool regular = false;
  uint64_t size = 0;
};

struct ProgramResult {
  int exit_code = 0;   // the exit status; negative: killed by that signal
  std::string output;  // stdout and stderr together (the first 64 KiB)
};

class KexecSystem {
 public:
  virtual ~KexecSystem() = default;

  // uname -r.
  virtual std::string KernelRelease() = 0;
  // A small file such as /proc/cmdline; kNotFound when it does not exist.
  virtual Result<std::string> ReadFile(const std::string& path) = 0;
  // Opens `path` read-only and describes it: 0, or an errno value.
  virtual int Open(const std::string& path, OpenedFile* file) = 0;
  virtual void Close(int fd) = 0;
  // CAP_SYS_BOOT in the effective set (root has it).
  virtual bool HasBootCapability() = 0;
  // Asks whether kexec_file_load(2) exists, without loading anything (a call with a flag no
  // kernel knows): EINVAL when it exists, ENOSYS when it does not, EPERM when refused.
  virtual int ProbeFileLoad() = 0;
  // kexec_file_load(2): 0 or an errno value. The command line is passed with its NUL.
  virtual int KexecFileLoad(int kernel_fd, int initrd_fd, const std::string& cmdline,
                            unsigned long flags) = 0;
  // An executable `name` in $PATH, /sbin or /usr/sbin (full path), or "".
  virtual std::string FindProgram(const std::string& name) = 0;
  // Runs argv (argv[0] a full path) without a shell, stdin /dev/null, and waits for it, at most
  // `timeout`: then its process group is killed and the run is kBusy, saying so.
  virtual Result<ProgramResult> Run(const std::vector<std::string>& argv,
                                    std::chrono::milliseconds timeout) = 0;
  virtual void Sync() = 0;
  // reboot(LINUX_REBOOT_CMD_KEXEC). Returns only when the reboot did not happen: an errno value.
  virtual int RebootKexec() = 0;
};

// The machine's own: real system calls.
KexecSystem& RealKexecSystem();

// ---------------------------------------------------------------------------------------------
// The pmem region the next kernel must leave alone.

// A physical address range [start, start + size).
struct PhysRange {
  uint64_t start = 0;
  uint64_t size = 0;
  uint64_t end() const { return start + size; }
};

// The image's region when it is legacy pmem: an e820 "Persistent Memory (legacy)" range, which
// memmap=SIZE!ADDR on the command line makes (or the firmware), rather than an NVDIMM the
// firmware describes itself. The firmware's memory map, which kexec hands to the next kernel,
// calls that memory RAM, so two things keep the image alive across the kexec, and
// CheckKexecPlan and LoadKexec enforce both:
//  - the next kernel's command line keeps a memmap= that reserves the region from its first
//    byte (else the next kernel uses the image's memory as RAM);
//  - nothing is loaded into it. kexec_file_load(2) places the next kernel in System RAM only,
//    which the region stops being at the hot-remove. kexec-tools' kexec_load path takes its
//    memory map from /sys/firmware/memmap, which memmap= does not change, and places the
//    kernel top-down, so it runs only with --mem-max just below the region: kexec-tools then
//    refuses, before loading anything, any segment that would end above it. Where the
//    region's physical address is unknown, the fallback is refused.
struct LegacyPmem {
  std::string name;  // the namespace ("namespace0.0"), for messages
  PhysRange range;   // range.start 0: the physical address is unknown
};

// The ranges a command line's memmap= parameters make legacy pmem (e820 type 12), as the x86
// kernel reads them (parse_memmap_opt, arch/x86/kernel/e820.c): every memmap= before a bare
// `--`, each a comma-separated list; NN!SS adds [SS, SS + NN), numbers as the kernel's memparse
// takes them (decimal, 0x hex or 0 octal, with an optional K M G T P E suffix); `exactmap`
// forgets the ranges before it; NN%SS-OLD+NEW forms other than a plain add of type 12 are taken
// to remove [SS, SS + NN) (they may retype it). An entry the kernel would reject adds nothing.
// Sorted, with overlapping and adjacent ranges merged, as the kernel merges them into one
// region.
std::vector<PhysRange> LegacyPmemRanges(const std::string& cmdline);

// The parameter that reserves `range` as legacy pmem: "memmap=528M!4G" (hex where no suffix
// divides: "memmap=0x1001!4G").
std::string MemmapParameter(const PhysRange& range);

// ---------------------------------------------------------------------------------------------
// The plan.

// What was asked for; empty fields take the defaults.
struct KexecRequest {
  std::string kernel;   // "" = /boot/vmlinuz-$(uname -r)
  std::string initrd;   // "" = /boot/initrd.img-$(uname -r) (or initramfs-R.img) if it exists;
                        // "none" = no initrd
  std::string cmdline;  // "" = the running kernel's /proc/cmdline, filtered
  std::string append;   // added to the command line
  // The sealed image the next boot is to restore (its uuid): carried as warmboot.image=UUID.
  // "" = none (any warmboot.image= from the running or configured command line is dropped).
  std::string image_token;
  // The image's region when it is legacy pmem (see LegacyPmem); none for an NVDIMM.
  std::optional<LegacyPmem> legacy_pmem;
};

enum class KexecLoader {
  kFileLoad,    // kexec_file_load(2)
  kKexecTools,  // kexec-tools' `kexec -c -l` (the older kexec_load(2))
};
const char* KexecLoaderName(KexecLoader loader);

struct KexecPlan {
  std::string kernel;
  bool default_kernel = false;  // chosen by default, not asked for
  std::string initrd;           // "" = none (KEXEC_FILE_NO_INITRAMFS)
  std::string cmdline;
  std::string cmdline_origin;             // "/proc/cmdline" or "configured"
  std::vector<std::string> dropped;       // parameters of /proc/cmdline not carried over
  std::optional<LegacyPmem> legacy_pmem;  // as requested: the region the next kernel must keep
  std::string image_token;                // as requested; on the command line as warmboot.image=
  // Set by CheckKexecPlan:
  KexecLoader loader = KexecLoader::kFileLoad;
  std::string kexec_tools;  // kexec-tools' kexec when found ("" = not installed)
  std::string loader_note;  // why kexec-tools will load, when it will
};

// The kernel's limit on x86: COMMAND_LINE_SIZE is 2048 and a bzImage takes at most
// COMMAND_LINE_SIZE - 1 = 2047 bytes (its header's cmdline_size), NUL included, of which
// kexec_file_load keeps 30 free for an `elfcorehdr=` it may append: at most 2016 characters.
// Used on every architecture (arm64 and powerpc allow 2047): the strictest common limit.
inline constexpr size_t kCommandLineSize = 2048;
inline constexpr size_t kMaxKexecCmdline = kCommandLineSize - 1 - 30 - 1;

// The parameter by which the next kernel's command line names the sealed image it is meant to
// restore: warmboot.image=UUID. Restore acts on its own only on that image (or one sealed in
// the same boot); any other sealed image is stale and waits for an explicit request
// (docs/safety.md). A dotted name is a module parameter to the kernel: it stays in
// /proc/cmdline, is never handed to init, and no module named warmboot takes it.
inline constexpr const char* kImageTokenParam = "warmboot.image";

// The value of the last `name=` parameter before a bare `--` ("" when it has an empty value);
// nullopt when there is none. Quotes around the whole parameter or its value are removed.
std::optional<std::string> CmdlineParam(const std::string& cmdline, const std::string& name);

// Parameters of a running kernel's command line that must not be handed to the next kernel:
//   BOOT_IMAGE=             set by the boot loader: the path of the *previous* kernel
//   initrd=                 a boot loader's / EFI stub's initrd file; kexec passes its own
//   elfcorehdr=             a kdump kernel's: the next kernel would think it is one
//   kexec_jump_back_entry=  kexec-tools' jump-back protocol
//   warmboot.image=         names the image *this* boot was to restore (see kImageTokenParam)
// Everything else is carried, memmap= (which makes the pmem region) above all. Arguments after
// a bare `--` belong to init and are kept as they are. Names are read as the kernel's
// next_arg() reads them: a quoted "initrd=..." is dropped, a quoted "--" ends the parameters.
struct FilteredCmdline {
  std::string cmdline;
  std::vector<std::string> dropped;
};
FilteredCmdline FilterRunningCmdline(const std::string& proc_cmdline);

// Splits a command line where the kernel does (lib/cmdline.c): at whitespace as the kernel's
// isspace() knows it (space, \t, \n, \v, \f, \r, 0xa0) outside double quotes.
std::vector<std::string> SplitCmdline(const std::string& cmdline);

// Resolves defaults: reads uname -r and /proc/cmdline, looks for the default initrd. Checks
// nothing else (see CheckKexecPlan).
Result<KexecPlan> ResolveKexecPlan(const KexecRequest& request, KexecSystem& sys);

// Everything that can be known before loading, in this order: the kernel and the initrd are
// readable, non-empty regular files; the command line fits and, with a legacy_pmem, keeps it
// reserved; we may boot (CAP_SYS_BOOT); this kernel can kexec and kexec is not disabled; a
// loader exists (kexec_file_load, else kexec-tools, which a legacy_pmem of unknown address
// refuses). Loads nothing. Fills plan->loader, kexec_tools and loader_note.
Status CheckKexecPlan(KexecPlan* plan, KexecSystem& sys);

// ---------------------------------------------------------------------------------------------
// Loading, unloading, rebooting.

struct KexecLoadReport {
  KexecLoader loader = KexecLoader::kFileLoad;
  std::string note;  // "kexec_file_load unavailable (...); loaded with kexec-tools' kexec -l"
};

// Loads the plan's kernel (CheckKexecPlan first) and checks /sys/kernel/kexec_loaded says so.
// kexec_file_load first; kexec-tools' `kexec -c -l` when the kernel has no kexec_file_load
// (ENOSYS) or cannot load this image format with it (ENOEXEC), saying so in the report. With a
// legacy_pmem, kexec-tools gets --mem-max below it, or is not run when its address is unknown.
Result<KexecLoadReport> LoadKexec(const KexecPlan& plan, KexecSystem& sys);

// kexec_file_load's errno as a Status saying what to do (see kexec/errors.cc for the table).
Status KexecFileLoadError(int err, const KexecPlan& plan, KexecSystem& sys);

// /sys/kernel/kexec_loaded: true when a kernel is loaded.
Result<bool> KexecLoaded(KexecSystem& sys);
// Ok when a kernel is loaded; else "nothing loaded".
Status VerifyKexecLoaded(KexecSystem& sys);

// Unloads a loaded kernel (KEXEC_FILE_UNLOAD; kexec-tools' `kexec -u` without kexec_file_load).
// Nothing loaded is not an error.
Status UnloadKexec(KexecSystem& sys);

// Checks a kernel is loaded, syncs, and reboots into it. Returns only when that failed.
Status ExecuteKexec(KexecSystem& sys);

// errno's symbolic name ("ENOSYS"), or its number.
std::string ErrnoName(int err);

nlohmann::json ToJson(const KexecPlan& plan);
nlohmann::json ToJson(const KexecLoadReport& report);

}  // namespace warmboot
