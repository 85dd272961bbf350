// The open-file limit. warmbootd holds a descriptor for every segment handed to it, and
// preserve one for every segment it exports into the image: a few thousand segments pass the
// soft limit a process starts with (1024, systemd's default and the kernel's for init) long
// before the hard one. Neither uses select(2), the reason that soft limit is low.
#pragma once

#include <sys/resource.h>

namespace warmboot {

// Raises RLIMIT_NOFILE's soft limit to its hard limit. Returns the soft limit now in force
// (unchanged when it could not be raised; 0 when it cannot be read).
rlim_t RaiseOpenFileLimit();

}  // namespace warmboot
