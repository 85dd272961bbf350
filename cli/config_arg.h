// --config handling shared by the machine-level commands.
#pragma once

#include "cli/args.h"
#include "orchestration/config.h"

namespace warmboot::cli {

// --config FILE, or the default path (whose absence means built-in defaults).
inline Result<Config> ConfigFromArgs(const Args& args) {
  if (auto path = args.Get("config")) return LoadConfig(*path, false);
  return LoadConfig(kDefaultConfigPath, true);
}

}  // namespace warmboot::cli
