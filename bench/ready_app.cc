#include "bench/ready_app.h"

#include <future>

#include "bench/daemon_process.h"
#include "client/client.h"

namespace warmboot::bench {

ReadyApp::ReadyApp(const std::string& socket, const std::string& app) {
  std::promise<void> registered;
  auto done = registered.get_future();
  thread_ = std::thread([this, socket, app, &registered] {
    auto c = client::Client::Connect(app, socket);
    if (!c.ok()) Fail("cannot register " + app + ": " + c.status().message());
    registered.set_value();
    while (!stop_) {
      // A short wait, so that the destructor's stop is seen soon.
      auto p = c->WaitForPrepare(50);
      if (!p.ok()) Fail(app + ": " + p.status().message());
      if (!*p) continue;
      if (Status s = c->Ready((*p)->round); !s.ok()) Fail(app + ": ready: " + s.message());
    }
  });
  done.wait();
}

ReadyApp::~ReadyApp() {
  stop_ = true;
  thread_.join();
}

}  // namespace warmboot::bench
