// Which namespace is warmboot's to act on. warmboot reconfigures a namespace, hot-removes its
// memory and overwrites it, so it acts only on one that is its own:
//   - named in the configuration (`namespace = ...`): the administrator handed it over; or
//   - marked as warmboot's on the device itself: a label named "warmboot" (NVDIMMs), a dax info
//     block carrying warmboot's uuid for this namespace (written by warmboot's own
//     reconfiguration), or, raw, a warmboot image at its start.
// Whatever hands it over, a namespace that holds someone's data is never taken: an fsdax or
// sector (BTT) namespace, or a raw one carrying a filesystem or another known signature.
#pragma once

#include <string>

#include "pmem/pmem.h"
#include "util/uuid.h"

namespace warmboot {

// The uuid warmboot gives the dax device of the namespace at `identity` (PmemInfo::identity):
// the same every time, so a reconfiguration keeps it (an /etc/daxctl.conf.d entry matched by
// uuid keeps matching) and it marks the info block as warmboot's.
Uuid WarmbootDaxUuid(const std::string& identity);

// Ok when warmboot may act on `info`; otherwise kPermission, saying why and what to do.
// `configured`: the configuration names this namespace. `carries_image`: raw, with a warmboot
// image (sealed or not) at its start.
Status CheckOwnership(const PmemInfo& info, bool configured, bool carries_image);

// Whether the namespace stays warmboot's once made raw, before any image is written there:
// only what does not live in the dax info block (which the reconfiguration clears) hands it
// over then, the configuration's name or a label named "warmboot".
bool OwnedWhenRaw(const PmemInfo& info, bool configured);

}  // namespace warmboot
