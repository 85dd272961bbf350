// Minimal argument parsing shared by every command: positionals, `--name VALUE`,
// `--name=VALUE` and boolean `--name`. Unknown options are usage errors (exit 2).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace warmboot::cli {

struct OptionSpec {
  std::string name;  // without the leading "--"
  bool takes_value;
};

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> values;  // boolean flags map to ""

  bool Has(const std::string& name) const { return values.count(name) != 0; }
  std::optional<std::string> Get(const std::string& name) const;
};

// `--json` and `--help` are accepted by every command.
Result<Args> ParseArgs(const std::vector<std::string>& argv, std::vector<OptionSpec> spec);

// "4096", "1M", "64MiB", "2G" (binary units).
Result<uint64_t> ParseSize(std::string_view text, std::string_view what);
Result<unsigned> ParseCount(std::string_view text, std::string_view what);
// A plain non-negative integer.
Result<uint64_t> ParseUint(std::string_view text, std::string_view what);

}  // namespace warmboot::cli

namespace warmboot::cli {
// True when --json appears before any "--", so even a usage error can be reported as JSON.
bool WantsJson(const std::vector<std::string>& argv);
}  // namespace warmboot::cli
