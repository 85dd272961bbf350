// Lets parallel workers take turns in index order for one short step (handing out the next
// offset on the medium) while the slow work before and after that step runs concurrently.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <mutex>

#include "util/status.h"

namespace warmboot {

class Sequencer {
 public:
  // Blocks until every index below `index` has passed. Returns false when the sequence was
  // aborted; the caller then gives up its item.
  bool Wait(size_t index) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return turn_ == index || !error_.ok(); });
    return error_.ok();
  }

  // Ends the turn of `index` (which must hold it).
  void Pass(size_t index) {
    {
      std::lock_guard lock(mu_);
      turn_ = index + 1;
    }
    cv_.notify_all();
  }

  // Stops the sequence: every waiter, now and later, is turned away. The first error is kept.
  void Abort(const Status& error) {
    {
      std::lock_guard lock(mu_);
      if (error_.ok()) error_ = error;
    }
    cv_.notify_all();
  }

  Status error() {
    std::lock_guard lock(mu_);
    return error_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  size_t turn_ = 0;
  Status error_;
};

}  // namespace warmboot
