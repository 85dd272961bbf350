// Random (incompressible) bytes written into descriptors, for the checkpoint API's benchmarks:
// xoshiro256** output, a fresh megabyte per megabyte, the same bytes for the same seed. The
// clocks run around the writes only, not around making the bytes: what is timed is what it costs
// a client to put its state into a memfd (or a tmpfs file).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "util/unique_fd.h"

namespace warmboot::bench {

struct FillCost {
  double wall_s = 0;
  double cpu_s = 0;  // the calling thread's user + sys time in the writes
};

// Writes `bytes` bytes seeded by `seed` into every descriptor of `fds` (each gets the same
// bytes, from offset 0), with pwrite in 1 MiB calls. The cost is of the writes into all of them.
FillCost FillRandom(const std::vector<int>& fds, uint64_t bytes, uint64_t seed);

// A memfd that admits sealing (MFD_ALLOW_SEALING), empty.
UniqueFd NewMemfd(const std::string& name);

// Seals `fd` against writing, growing and shrinking: what warmbootd takes (docs/api.md).
void Seal(int fd);

}  // namespace warmboot::bench
