// One function per command; each is a thin front over the library.
#pragma once

#include <string>
#include <vector>

namespace warmboot::cli {

using Argv = std::vector<std::string>;

int CmdPack(const Argv& argv);
int CmdVerify(const Argv& argv);
int CmdUnpack(const Argv& argv);
int CmdInspect(const Argv& argv);
int CmdPreserve(const Argv& argv);
int CmdRestore(const Argv& argv);
int CmdStatus(const Argv& argv);
int CmdKexec(const Argv& argv);

}  // namespace warmboot::cli
