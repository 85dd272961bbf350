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

void PrintPhases(const PhaseLog& log) {
  for (const Phase& p : log.phases()) {
    std::printf("  %-32s %8.3f s  %s%s\n", p.name.c_str(), p.seconds,
                p.ok ? "" : "FAILED: ", Printable(p.detail).c_str());
  }
}

void PrintNotes(const std::vector<std::string>& notes) {
  for (const std::string& n : notes) std::cout << "  note: " << Printable(n) << "\n";
}

void PrintJson(nlohmann::json result, int exit_code) {
  result["ok"] = exit_code == kExitOk;
  result["exit_code"] = exit_code;
  std::cout << DumpJson(result, 2) << "\n";
}

std::optional<Args> ParseOptionsOnly(const std::vector<std::string>& argv,
                                     std::vector<OptionSpec> spec, const std::string& command,
                                     std::string_view help, bool json, int* exit) {
  auto args = ParseArgs(argv, std::move(spec));
  if (!args.ok()) {
    *exit = ReportError(args.status(), json, command);
    return std::nullopt;
  }
  if (args->Has("help")) {
    std::cout << help;
    *exit = kExitOk;
    return std::nullopt;
  }
  if (!args->positional.empty()) {
    *exit = ReportError(UsageError(command + " takes no positional arguments"), json, command);
    return std::nullopt;
  }
  return std::move(*args);
}

}  // namespace warmboot::cli
