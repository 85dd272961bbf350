// What on this machine will fight warmboot over the namespace's memory blocks: an auto-online
// policy that onlines hot-plugged memory (into a kernel zone unless it says online_movable), a
// udev rule that onlines memory blocks, a daxctl configuration that reconfigures dax devices
// as they appear. `warmboot status` shows these; restore works around the policy and repairs
// zones, but the others act behind its back.
#pragma once

#include <string>
#include <vector>

namespace warmboot {

// `policy` is memory/auto_online_blocks as read; `root` prefixes every path read ("" for the
// machine itself; tests pass a fake tree). One sentence per finding, saying what to do.
std::vector<std::string> HotplugWarnings(const std::string& policy, const std::string& root = "");

}  // namespace warmboot
