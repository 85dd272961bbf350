// Reading a file through its mapping raises SIGBUS where the file has no page any more (it was
// truncated meanwhile) or the medium failed under it. GuardSigbus runs `read` so that such a
// SIGBUS ends `read` early and is reported, instead of killing the process: bad input never
// aborts. Threads may guard at the same time; a SIGBUS outside any guard keeps its default
// action (the process dies, with a core, as it would have).
// REQUIRES: `read` may be cut off at any instruction that reads the mapping: it holds no lock
// across such a read and leaves nothing half-done that matters once it is cut off (a hash, a
// decompression into a buffer the caller then drops).
#pragma once

#include <functional>

namespace warmboot {

// True when `read` returned; false when it was cut off by a SIGBUS.
bool GuardSigbus(const std::function<void()>& read);

}  // namespace warmboot
