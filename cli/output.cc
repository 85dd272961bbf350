#include "cli/output.h"

#include <cstdio>
#include <iostream>

#include "warmboot/report_json.h"

namespace warmboot::cli {

int ExitCodeFor(const Status& s) {
  switch (s.code()) {
    case Code::kOk:
      return kExitOk;
    case Code::kUsage:
      return kExitUsage;
    case Code::kNoImage:
      return kExitNoImage;
    default:
      return kExitError;
  }
}

int ReportError(const Status& status, bool json, const std::string& command) {
  int code = ExitCodeFor(status);
  if (json) {
    std::cout << nlohmann::json{{"ok", false}, {"exit_code", code}, {"error", ToJson(status)}}.dump(
                     2)
              << "\n";
  } else {
    std::cerr << "warmboot " << command << ": " << status.message() << "\n";
    if (code == kExitUsage) std::cerr << "run 'warmboot " << command << " --help' for usage\n";
  }
  return code;
}

void PrintJson(nlohmann::json result, int exit_code) {
  result["ok"] = exit_code == kExitOk;
  result["exit_code"] = exit_code;
  std::cout << result.dump(2) << "\n";
}

std::string HumanBytes(uint64_t n) {
  char buf[32];
  if (n >= (1ull << 30))
    std::snprintf(buf, sizeof buf, "%.2f GiB", n / double(1ull << 30));
  else if (n >= (1ull << 20))
    std::snprintf(buf, sizeof buf, "%.1f MiB", n / double(1ull << 20));
  else if (n >= (1ull << 10))
    std::snprintf(buf, sizeof buf, "%.1f KiB", n / double(1ull << 10));
  else
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(n));
  return buf;
}

std::string Rate(uint64_t bytes, double seconds) {
  if (seconds <= 0) return "-";
  return HumanBytes(static_cast<uint64_t>(bytes / seconds)) + "/s";
}

}  // namespace warmboot::cli
