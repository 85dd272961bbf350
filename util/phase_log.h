// A timeline of named phases with their durations and outcomes, for the preserve/restore
// reports and the VM test's timeline.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace warmboot {

struct Phase {
  std::string name;
  double seconds = 0;
  bool ok = true;
  std::string detail;
};

class PhaseLog {
 public:
  // Times one phase: construct, then call Done() (or let it end as a failure).
  class Timer {
   public:
    Timer(PhaseLog* log, std::string name)
        : log_(log), name_(std::move(name)), start_(std::chrono::steady_clock::now()) {}
    ~Timer() {
      if (!done_) Done(false, "did not finish");
    }
    void Done(bool ok = true, std::string detail = "") {
      done_ = true;
      if (log_ == nullptr) return;
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
      log_->phases_.push_back({name_, s, ok, std::move(detail)});
    }

   private:
    PhaseLog* log_;
    std::string name_;
    std::chrono::steady_clock::time_point start_;
    bool done_ = false;
  };

  Timer Start(std::string name) { return Timer(this, std::move(name)); }
  void Note(std::string name, bool ok, std::string detail) {
    phases_.push_back({std::move(name), 0, ok, std::move(detail)});
  }
  const std::vector<Phase>& phases() const { return phases_; }
  nlohmann::json ToJson() const;

 private:
  std::vector<Phase> phases_;
};

}  // namespace warmboot
