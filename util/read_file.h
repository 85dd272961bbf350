// Reading a small file whole from a path someone else may have put anything at: a
// configuration, a report, a document named on the command line.
//
// The path must name a regular file. Through an ifstream a directory reads as empty (and parses
// as a configuration of defaults, without a word), and a FIFO blocks until a writer comes, for
// ever; here each is an error that names the path and what it is. Errors: kNotFound when nothing
// is there (so "missing is fine" callers can tell), kInvalidArgument for a directory, a FIFO, a
// device or a socket, or a file larger than `max_bytes`; what open or read said otherwise.
#pragma once

#include <cstdint>
#include <string>

#include "util/status.h"

namespace warmboot {

Result<std::string> ReadRegularFile(const std::string& path, uint64_t max_bytes);

// The cap for warmboot's own reports read back (restore.json and the like): the largest lists
// damaged files by name, far below this.
inline constexpr uint64_t kMaxReportBytes = 256ull << 20;

}  // namespace warmboot
