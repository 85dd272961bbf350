// restore: early in the next boot. Finds the raw namespace, restores a sealed image into a
// tmpfs (partial where damaged), consumes the seal, clears known media errors, and gives the
// memory back to System RAM in every case it can.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>

#include "image/image.h"
#include "orchestration/config.h"
#include "pmem/pmem.h"
#include "pmem/transitions.h"
#include "util/phase_log.h"

namespace warmboot {

enum class RestoreOutcome {
  kRestored,          // everything restored
  kPartial,           // damaged segments quarantined, the rest restored
  kNothingToRestore,  // the namespace was not raw: no preserve happened
  kAlreadyRestored,   // the image was consumed by an earlier (interrupted) restore
  kNoValidImage,      // raw namespace without a sealed image (none, unsealed, damaged header)
  kFailed,            // an error stopped the restore
};
const char* RestoreOutcomeName(RestoreOutcome outcome);

struct RestoreOptions {
  TransitionOptions transition;
  // Mount a tmpfs on the restore directory when it is not one already.
  bool mount_tmpfs = true;
};

struct RestoreReport {
  Status status;  // ok unless something failed outright
  RestoreOutcome outcome = RestoreOutcome::kFailed;
  std::string message;
  bool memory_returned = false;
  int64_t started_ns = 0;
  PhaseLog phases;
  std::optional<PmemInfo> device;
  std::optional<UnpackReport> unpack;
  std::vector<ByteRange> bad_ranges;
  nlohmann::json preserve_report;  // read back from the medium, when present
  std::vector<std::string> notes;
};

RestoreReport Restore(PmemPlatform& platform, const Config& config, const RestoreOptions& options);

nlohmann::json ToJson(const RestoreReport& report);

}  // namespace warmboot
