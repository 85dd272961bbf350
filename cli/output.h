// How every command reports: a short human summary saying what happened and what to do next,
// or with --json one JSON document on stdout. Exit codes are documented in docs/cli.md.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/args.h"
#include "util/phase_log.h"
#include "util/status.h"

namespace warmboot::cli {

enum ExitCode : int {
  kExitOk = 0,
  kExitError = 1,    // error; nothing was changed
  kExitUsage = 2,    // bad command line
  kExitPartial = 3,  // damaged segments named; the rest verified or restored
  kExitNoImage = 4,  // no valid image: none, unsealed, unknown version, consumed
  kExitStale = 5,    // restore: a sealed image this boot was not meant to restore; kept
};

int ExitCodeFor(const Status& status);

// Prints the error (to stderr, or as {"ok":false,...} on stdout with --json) and returns its
// exit code.
int ReportError(const Status& status, bool json, const std::string& command);

// The start every command without operands shares: its options parsed, `help` printed for
// --help, any operand refused. The options to go on with, or nullopt with *exit set: kExitOk
// after --help, the error's code after ReportError said what was wrong.
std::optional<Args> ParseOptionsOnly(const std::vector<std::string>& argv,
                                     std::vector<OptionSpec> spec, const std::string& command,
                                     std::string_view help, bool json, int* exit);

// A command's phases, one line each, and its notes, for human output. Details and notes quote
// names from the state and the image: printed through Printable, so no name forges a line or
// reaches the terminal as a control sequence.
void PrintPhases(const PhaseLog& log);
void PrintNotes(const std::vector<std::string>& notes);

// Prints a successful JSON result with "ok" and "exit_code" fields added.
void PrintJson(nlohmann::json result, int exit_code);

}  // namespace warmboot::cli
