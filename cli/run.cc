// The command dispatcher: one thin function per command (cli/cmd_*.cc). See docs/cli.md.
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/machine.h"
#include "cli/output.h"

namespace warmboot::cli {
namespace {

constexpr const char* kUsage = R"(usage: warmboot COMMAND [ARGS] [--json]

Image commands:
  pack    STATE_DIR IMAGE   write a state directory into an image (file or /dev/pmem0)
  verify  IMAGE             check every chunk of a sealed image
  unpack  IMAGE DEST_DIR    restore a sealed image into a directory
  inspect IMAGE             show header, segments, sizes, compression ratio

Machine commands (configuration: /etc/warmboot/warmboot.conf, or --config F):
  preserve                  shutdown hook: memory out of System RAM, state sealed on pmem
  restore                   early boot: restore the state (the memory back now or later)
  give-back                 the pmem back to System RAM once nothing waits on it
  status                    boot type, last blackout, state waiting, what next, metrics
  report                    the last warm reboot's timeline; --svg FILE draws it
  kexec                     load the next kernel and reboot into it (--load-only: load)
  discard --yes             give up a state waiting on pmem; the memory goes back
  reboot                    a warm reboot through systemd: check, checkpoint, kexec

Checkpoint API (warmbootd, /run/warmboot/api.sock or --socket PATH):
  api list|put|get|drop|status  segments by hand, who is registered ('warmboot api --help')

Run 'warmboot COMMAND --help' for a command's options.
Exit codes: 0 ok, 1 error (nothing changed), 2 usage, 3 partial (damage named, the rest
verified or restored; preserve: image sealed, but no kexec), 4 no valid image (none,
unsealed, unknown version, consumed), 5 a sealed image waits and was kept (restore: a
stale one; give-back: nothing changed).
)";

}  // namespace

static int RunCommand(int argc, char** argv, const Machine& machine);

bool UnderSystemd(const Machine& machine) {
  return (machine.services != nullptr ? *machine.services : RealServiceManager()).Present();
}

int Run(int argc, char** argv, const Machine& machine) {
  // A last guard: a report or record read back that is damaged in a way a check missed ends
  // the command with a clear error (a JSON document under --json), never an abort.
  const bool json = argc >= 2 && WantsJson(Argv(argv + 2, argv + argc));
  const std::string command = argc >= 2 ? argv[1] : "";
  try {
    return RunCommand(argc, argv, machine);
  } catch (const nlohmann::json::exception& e) {
    return ReportError(Corruption(std::string("a JSON document it read is malformed (") + e.what() +
                                  "); nothing more was done"),
                       json, command);
  } catch (const std::exception& e) {
    // Out of memory, or a thread the system would not start where no fewer would do: the
    // command stops here, cleaning up as it unwinds, rather than aborting.
    return ReportError(IoError(std::string("stopped: ") + e.what() +
                               " (out of memory or of processes?); 'warmboot status' says "
                               "where the machine stands"),
                       json, command);
  }
}

static int RunCommand(int argc, char** argv, const Machine& machine) {
  if (argc < 2) {
    std::cerr << kUsage;
    return kExitUsage;
  }
  std::string cmd = argv[1];
  Argv rest(argv + 2, argv + argc);
  if (cmd == "pack") return CmdPack(rest);
  if (cmd == "verify") return CmdVerify(rest);
  if (cmd == "unpack") return CmdUnpack(rest);
  if (cmd == "inspect") return CmdInspect(rest);
  if (cmd == "preserve") return CmdPreserve(rest, machine);
  if (cmd == "restore") return CmdRestore(rest, machine);
  if (cmd == "status") return CmdStatus(rest, machine);
  if (cmd == "kexec") return CmdKexec(rest, machine);
  if (cmd == "discard") return CmdDiscard(rest, machine);
  if (cmd == "give-back") return CmdGiveBack(rest, machine);
  if (cmd == "reboot") return CmdReboot(rest, machine);
  if (cmd == "report") return CmdReport(rest, machine);
  if (cmd == "api") return CmdApi(rest);
  if (cmd == "help" || cmd == "--help" || cmd == "-h") {
    std::cout << kUsage;
    return kExitOk;
  }
  if (cmd == "version" || cmd == "--version") {
    std::cout << "warmboot 0.1.0 (image format 1.0)\n";
    return kExitOk;
  }
  if (WantsJson(rest)) {
    return ReportError(UsageError("unknown command '" + cmd + "'; 'warmboot help' lists them"),
                       true, "help");
  }
  std::cerr << "warmboot: unknown command '" << cmd << "'\n\n" << kUsage;
  return kExitUsage;
}

}  // namespace warmboot::cli
