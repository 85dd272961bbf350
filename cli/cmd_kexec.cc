#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "cli/config_arg.h"
#include "cli/kexec_text.h"
#include "cli/output.h"
#include "image/image.h"
#include "kexec/kexec.h"
#include "preserve/reboot.h"
#include "util/json_text.h"
#include "util/printable.h"
#include "util/status_json.h"

namespace warmboot::cli {

static constexpr const char* kKexecHelp =
    R"(usage: warmboot kexec [--config F] [--kernel K] [--initrd I] [--cmdline C | --append A]
                      [--load-only | --unload] [--json]

Loads the next kernel and reboots into it (kexec), skipping the firmware. It preserves
nothing: 'warmboot preserve' seals the state first and then kexecs by itself. Checks first:
the kernel and initrd are readable files, we are root, this kernel allows kexec, the command
line fits. When a sealed image waits on the namespace (after 'warmboot preserve --no-kexec'),
the command line names it (warmboot.image=UUID) so the next boot restores it. Loads with
kexec_file_load(2); where this kernel lacks it or cannot load the image,
with kexec-tools' 'kexec -l', and says so. The reboot syncs the filesystems and jumps at once,
as 'kexec -e' does: services are not stopped first, so where PID 1 is systemd it refuses to
jump: --load-only, then 'systemctl kexec'.

  --config F    configuration file (default /etc/warmboot/warmboot.conf): its kernel, initrd,
                cmdline and append keys; the options below override them
  --kernel K    the next kernel (default /boot/vmlinuz-$(uname -r))
  --initrd I    its initrd, or 'none' (default /boot/initrd.img-$(uname -r) when it exists)
  --cmdline C   its whole command line, replacing the configured one and `append` (default:
                this kernel's /proc/cmdline less BOOT_IMAGE=, initrd=, elfcorehdr= and
                kexec_jump_back_entry=)
  --append A    add A to the command line (instead of the configured `append`)
  --load-only   load and report; do not reboot
  --unload      unload a kernel loaded earlier; do not reboot
)";

namespace {

int Unload(KexecSystem& sys, bool json) {
  auto loaded = KexecLoaded(sys);
  if (!loaded.ok()) return ReportError(loaded.status(), json, "kexec");
  if (Status s = UnloadKexec(sys); !s.ok()) return ReportError(s, json, "kexec");
  if (json) {
    PrintJson({{"unloaded", *loaded}}, kExitOk);
  } else if (*loaded) {
    std::cout << "unloaded the next kernel; a reboot now goes through the firmware\n";
  } else {
    std::cout << "nothing was loaded; nothing changed\n";
  }
  return kExitOk;
}

}  // namespace

int CmdKexec(const Argv& argv, const Machine& machine) {
  const bool json = WantsJson(argv);
  int early = kExitOk;
  auto args = ParseOptionsOnly(argv,
                               {{"config", true},
                                {"kernel", true},
                                {"initrd", true},
                                {"cmdline", true},
                                {"append", true},
                                {"load-only", false},
                                {"unload", false}},
                               "kexec", kKexecHelp, json, &early);
  if (!args) return early;
  if (args->Has("cmdline") && args->Has("append")) {
    return ReportError(UsageError("--cmdline replaces the command line and --append adds to it: "
                                  "give one of them"),
                       json, "kexec");
  }
  if (args->Has("unload")) {
    for (const char* o : {"load-only", "kernel", "initrd", "cmdline", "append"}) {
      if (args->Has(o)) {
        return ReportError(UsageError(std::string("--unload does not go with --") + o), json,
                           "kexec");
      }
    }
    // Unloaded: `systemctl reboot` is an ordinary reboot again (preserve/reboot.h).
    if (auto config = ConfigFromArgs(*args); config.ok()) ClearLoadedKernel(*config);
    return Unload(*machine.kexec, json);
  }

  auto config = ConfigFromArgs(*args);
  if (!config.ok()) return ReportError(config.status(), json, "kexec");
  KexecRequest request = KexecRequestFromConfig(*config);
  if (auto v = args->Get("kernel")) request.kernel = *v;
  if (auto v = args->Get("initrd")) request.initrd = *v;
  if (auto v = args->Get("cmdline")) {
    request.cmdline = *v;
    request.append.clear();
  }
  if (auto v = args->Get("append")) request.append = *v;
  // A legacy (memmap=) namespace must stay out of the next kernel's RAM and out of kexec-tools'
  // reach, as in preserve: a retry after a failed load runs here with the image sealed.
  if (auto platform = machine.open_platform(*config); platform.ok()) {
    auto info = (*platform)->Probe();
    if (info.ok() && !info->labeled) {
      request.legacy_pmem = LegacyPmem{info->name, {info->phys_start, info->size}};
    }
    // A sealed image waiting on the namespace is what the next boot restores: name it there.
    if (info.ok() && info->mode == PmemMode::kRaw) {
      if (auto media = (*platform)->OpenRawMedia(OpenMode::kReadOnly); media.ok()) {
        auto image = InspectImage(**media, InspectDepth::kHeaderAndSeal);
        if (image.ok() && image->state == ImageState::kSealed) {
          request.image_token = UuidToString(image->header.image_uuid);
        }
      }
    }
  }

  const bool reboot = !args->Has("load-only");
  // The jump is reboot(2) at once: under systemd that skips the services' ordered stop.
  if (reboot && UnderSystemd(machine)) {
    return ReportError(InvalidArgument("PID 1 is systemd: a jump from here would skip the "
                                       "services' ordered stop. 'warmboot kexec --load-only', "
                                       "then 'systemctl kexec' (or 'warmboot reboot', which "
                                       "checks and preserves too); nothing changed"),
                       json, "kexec");
  }
  if (!machine.can_kexec) {
    return ReportError(Status(Code::kUnsupported,
                              "this build drives a simulated namespace and "
                              "never loads a kernel"),
                       json, "kexec");
  }
  KexecSystem& sys = *machine.kexec;
  auto plan = ResolveKexecPlan(request, sys);
  if (!plan.ok()) return ReportError(plan.status(), json, "kexec");
  if (Status s = CheckKexecPlan(&*plan, sys); !s.ok()) return ReportError(s, json, "kexec");
  auto load = LoadKexec(*plan, sys);
  if (!load.ok()) return ReportError(load.status(), json, "kexec");
  // warmboot's kernel: while it is loaded, `systemctl reboot` is a warm reboot too.
  if (!reboot) {
    if (Status s = SaveLoadedKernel(*config, machine.this_boot().boot_id); !s.ok()) {
      load->note +=
          (load->note.empty() ? "" : "; ") + ("'systemctl reboot' stays an ordinary reboot (" +
                                              s.message() + "): 'systemctl kexec' reboots into it");
    }
  }

  if (json) {
    PrintJson({{"plan", ToJson(*plan)}, {"load", ToJson(*load)}, {"rebooting", reboot}}, kExitOk);
  } else {
    std::cout << "loaded the next kernel (" << KexecLoaderName(load->loader) << "):\n"
              << KexecPlanText(*plan);
    if (!load->note.empty()) std::cout << "  note: " << load->note << "\n";
    if (reboot) {
      std::cout << "rebooting into it now\n";
    } else {
      std::cout << "  next: 'systemctl kexec' or 'systemctl reboot' reboots into it after an "
                   "orderly shutdown, keeping the state; 'warmboot kexec --unload' unloads it\n";
    }
  }
  if (!reboot) return kExitOk;
  std::cout.flush();
  std::fflush(stdout);
  Status s = ExecuteKexec(sys);  // returns only when the reboot did not happen
  // Under --json the document above said the jump was coming: the outcome follows it.
  if (json) {
    std::cout << DumpJson({{"ok", false}, {"exit_code", ExitCodeFor(s)}, {"error", ToJson(s)}}, 2)
              << "\n";
  }
  std::cerr << "warmboot kexec: " << Printable(s.message(), true)
            << "; the next kernel stays loaded ('warmboot kexec --unload' unloads it)\n";
  return ExitCodeFor(s);
}

}  // namespace warmboot::cli
