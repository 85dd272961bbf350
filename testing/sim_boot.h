// The simulated machine's boot: its boot id and kernel command line, kept in DIR/boot next to
// the simulated namespace. `wb-simctl reboot` writes a new one, naming the sealed image on the
// command line as a preserve's kexec would (or not, for a cold boot); warmboot-sim reads it.
#pragma once

#include <optional>
#include <string>

#include "orchestration/this_boot.h"
#include "util/status.h"

namespace warmboot::testing {

Status WriteSimBoot(const std::string& dir, const ThisBoot& boot);
// None before the first simulated reboot (the host's boot is the simulated machine's then).
std::optional<ThisBoot> ReadSimBoot(const std::string& dir);
// When the simulated machine last booted (realtime ns, written by WriteSimBoot): its
// CLOCK_BOOTTIME counts from there, so a reboot's timeline (restore/timeline.h) crosses it as
// a kexec's would. None before the first simulated reboot.
std::optional<int64_t> ReadSimBootedNs(const std::string& dir);

}  // namespace warmboot::testing
