// The applications' readiness at the end of this boot's timeline (restore/timeline.h), as systemd
// knows it: the services ordered after warmboot-state.target (warmboot's own units aside), each
// active since when. A Type=notify application is active once it says READY=1, which it does
// after taking its state back (docs/systemd.md), so its readiness is its own word.
#pragma once

#include "cli/machine.h"
#include "restore/timeline.h"

namespace warmboot::cli {

// Adds them to `timeline` (AddApplicationsReady). Not under systemd: nothing; systemd cannot be
// asked (not root: its private socket is root's): a note says so.
void AddApplicationsFromSystemd(Timeline* timeline, const Machine& machine);

}  // namespace warmboot::cli
