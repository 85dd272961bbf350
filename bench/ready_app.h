// An application that answers every checkpoint round ready, on a thread of its own: the other
// end the benchmarks that run rounds need (a round waits for every connected app). It registers
// under `app`, so it declares complete the set that another connection of the same app put
// (docs/api.md: several connections of one app, the first answer counts).
#pragma once

#include <atomic>
#include <string>
#include <thread>

namespace warmboot::bench {

class ReadyApp {
 public:
  // Returns once it is registered (fatal if it cannot be).
  ReadyApp(const std::string& socket, const std::string& app);
  // Stops answering (within 50 ms) and closes the connection.
  ~ReadyApp();
  ReadyApp(const ReadyApp&) = delete;
  ReadyApp& operator=(const ReadyApp&) = delete;

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace warmboot::bench
