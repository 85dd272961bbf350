// One function per command; each is a thin front over the library.
#pragma once

#include <string>
#include <vector>

#include "cli/machine.h"

namespace warmboot::cli {

using Argv = std::vector<std::string>;

int CmdPack(const Argv& argv);
int CmdVerify(const Argv& argv);
int CmdUnpack(const Argv& argv);
int CmdInspect(const Argv& argv);
int CmdPreserve(const Argv& argv, const Machine& machine);
int CmdRestore(const Argv& argv, const Machine& machine);
int CmdStatus(const Argv& argv, const Machine& machine);
int CmdKexec(const Argv& argv, const Machine& machine);
int CmdDiscard(const Argv& argv, const Machine& machine);
int CmdGiveBack(const Argv& argv, const Machine& machine);
int CmdReboot(const Argv& argv, const Machine& machine);
int CmdReport(const Argv& argv, const Machine& machine);
int CmdApi(const Argv& argv);

}  // namespace warmboot::cli
