#include "pmem/hotplug_warnings.h"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace warmboot {
namespace {

namespace fs = std::filesystem;

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A rule that writes a memory block's state or online attribute: the usual
// SUBSYSTEM=="memory", ACTION=="add", ATTR{state}="online" (or ATTR{online}="1").
bool OnlinesMemory(const std::string& line) {
  return line.find("SUBSYSTEM==\"memory\"") != std::string::npos &&
         (line.find("ATTR{state}=\"online") != std::string::npos ||
          line.find("ATTR{online}=\"1\"") != std::string::npos);
}

}  // namespace

std::vector<std::string> HotplugWarnings(const std::string& policy, const std::string& root) {
  std::vector<std::string> out;
  if (!policy.empty() && policy != "offline") {
    out.push_back("memory/auto_online_blocks is '" + policy +
                  "': the kernel onlines hot-plugged memory itself" +
                  (policy == "online_movable" ? "" : ", into a kernel zone") +
                  "; warmboot holds it at offline while it hot-plugs, but set it to offline "
                  "(kernel parameter memhp_default_state=offline) so nothing else races it");
  }
  for (const char* dir :
       {"/etc/udev/rules.d", "/run/udev/rules.d", "/usr/lib/udev/rules.d", "/lib/udev/rules.d"}) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(root + dir, ec)) {
      if (e.path().extension() != ".rules") continue;
      std::istringstream lines(ReadAll(e.path()));
      for (std::string line; std::getline(lines, line);) {
        if (line.find('#') == 0 || !OnlinesMemory(line)) continue;
        out.push_back("udev rule " + std::string(dir) + "/" + e.path().filename().string() +
                      " onlines memory blocks as they appear: it races warmboot and may put "
                      "them in a kernel zone; remove it or limit it to other memory");
        break;
      }
    }
  }
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root + "/etc/daxctl.conf.d", ec)) {
    if (e.path().extension() != ".conf") continue;
    out.push_back("daxctl configuration /etc/daxctl.conf.d/" + e.path().filename().string() +
                  " reconfigures dax devices as they appear (daxctl's udev rule): make sure it "
                  "does not name warmboot's namespace");
  }
  return out;
}

}  // namespace warmboot
