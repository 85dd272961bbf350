// Produce items on worker threads, consume them on the calling thread in index order, with a
// bounded number of slots in flight (bounded memory). The consumer receives runs of consecutive
// ready slots so it can write them with one vectored call.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "warmboot/status.h"

namespace warmboot {

template <typename Slot>
class OrderedPipeline {
 public:
  // produce(index, slot, worker) fills a slot; consume(first_index, slots) gets ready slots in
  // order. The first error from either stops the pipeline and is returned.
  using Produce = std::function<Status(size_t index, Slot& slot, unsigned worker)>;
  using Consume = std::function<Status(size_t first_index, std::span<Slot*> slots)>;

  OrderedPipeline(std::vector<Slot>& slots, unsigned workers) : slots_(slots), workers_(workers) {}

  Status Run(size_t count, const Produce& produce, const Consume& consume) {
    const size_t depth = slots_.size();
    state_.assign(depth, SlotState{});
    next_ = 0;
    stop_ = false;
    error_ = Status::Ok();
    std::vector<std::thread> threads;
    for (unsigned w = 0; w < workers_; ++w) {
      threads.emplace_back([&, w] { Work(count, produce, w); });
    }
    std::vector<Slot*> run;
    Status result;
    for (size_t i = 0; i < count && result.ok();) {
      size_t n = 0;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return state_[i % depth].ready || stop_; });
        if (!state_[i % depth].ready) break;  // a worker failed
        while (i + n < count && n < depth && state_[(i + n) % depth].ready &&
               state_[(i + n) % depth].index == i + n) {
          ++n;
        }
      }
      run.clear();
      for (size_t k = 0; k < n; ++k) run.push_back(&slots_[(i + k) % depth]);
      result = consume(i, std::span<Slot*>(run));
      {
        std::lock_guard lock(mu_);
        for (size_t k = 0; k < n; ++k) state_[(i + k) % depth] = SlotState{};
        if (!result.ok()) stop_ = true;
      }
      cv_.notify_all();
      i += n;
    }
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads) t.join();
    if (!error_.ok()) return error_;
    return result;
  }

 private:
  struct SlotState {
    bool busy = false;
    bool ready = false;
    size_t index = 0;
  };

  void Work(size_t count, const Produce& produce, unsigned worker) {
    const size_t depth = slots_.size();
    for (;;) {
      size_t i;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] {
          return stop_ || next_ >= count ||
                 (!state_[next_ % depth].busy && !state_[next_ % depth].ready);
        });
        if (stop_ || next_ >= count) return;
        i = next_++;
        state_[i % depth].busy = true;
        state_[i % depth].index = i;
      }
      Status s = produce(i, slots_[i % depth], worker);
      {
        std::lock_guard lock(mu_);
        if (!s.ok()) {
          if (error_.ok()) error_ = s;
          stop_ = true;
        } else {
          state_[i % depth].ready = true;
        }
        state_[i % depth].busy = false;
      }
      cv_.notify_all();
    }
  }

  std::vector<Slot>& slots_;
  unsigned workers_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<SlotState> state_;
  size_t next_ = 0;
  bool stop_ = false;
  Status error_;
};

// Runs task(index, worker) for every index on `workers` threads; order does not matter.
Status ParallelFor(size_t count, unsigned workers,
                   const std::function<Status(size_t index, unsigned worker)>& task);

}  // namespace warmboot
