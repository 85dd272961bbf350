#include "cli/output.h"

#include <cstdio>
#include <iostream>

#include "image/image_json.h"
#include "util/json_text.h"
#include "util/printable.h"

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
    std::cout << DumpJson({{"ok", false}, {"exit_code", code}, {"error", ToJson(status)}}, 2)
              << "\n";
  } else {
    std::cerr << "warmboot " << command << ": " << Printable(status.message(), true) << "\n";
    if (code == kExitUsage) std::cerr << "run 'warmboot " << command << " --help' for usage\n";
  }
  return code;
}

void PrintJson(nlohmann::json result, int exit_code) {
  result["ok"] = exit_code == kExitOk;
  result["exit_code"] = exit_code;
  std::cout << DumpJson(result, 2) << "\n";
}

}  // namespace warmboot::cli
