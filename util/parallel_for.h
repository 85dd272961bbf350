// Runs independent tasks on a few threads, the calling thread being one of them.
#pragma once

#include <cstddef>
#include <functional>

#include "util/status.h"

namespace warmboot {

// Runs task(index, worker) for every index in [0, count) on `workers` threads (worker 0 is the
// calling thread); order does not matter. The first error stops new tasks and is returned.
Status ParallelFor(size_t count, unsigned workers,
                   const std::function<Status(size_t index, unsigned worker)>& task);

}  // namespace warmboot
