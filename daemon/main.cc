// warmbootd: the checkpoint API's daemon (docs/api.md). Runs standalone or socket-activated by
// systemd (warmbootd.socket); tells systemd it is ready (Type=notify). One io_context, one
// thread; SIGTERM and SIGINT stop it.
#include <systemd/sd-daemon.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstring>
#include <iostream>

#include "daemon/server.h"
#include "orchestration/config.h"

namespace {

constexpr const char* kHelp =
    R"(usage: warmbootd [--config F] [--socket PATH]

Serves the checkpoint API (docs/api.md) on the configuration's api_socket (default
/run/warmboot/api.sock; --socket overrides it), or on the socket systemd passes (socket
activation). Serves what the last warm reboot restored for each application from the
configuration's restore_dir and report_dir. Stops on SIGTERM or SIGINT.
)";

}  // namespace

int main(int argc, char** argv) {
  using namespace warmboot;
  daemon::ServerOptions options;
  std::string config_path = kDefaultConfigPath, socket;
  bool config_given = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << kHelp;
      return 0;
    }
    if (a == "--socket" && i + 1 < argc) {
      socket = argv[++i];
    } else if (a.starts_with("--socket=")) {
      socket = a.substr(9);
    } else if (a == "--config" && i + 1 < argc) {
      config_path = argv[++i];
      config_given = true;
    } else if (a.starts_with("--config=")) {
      config_path = a.substr(9);
      config_given = true;
    } else {
      std::cerr << "warmbootd: unknown argument '" << a << "'\n" << kHelp;
      return 2;
    }
  }
  auto config = LoadConfig(config_path, /*missing_ok=*/!config_given);
  if (!config.ok()) {
    std::cerr << "warmbootd: " << config.status().message() << "\n";
    return 1;
  }
  options.socket_path = socket.empty() ? config->api_socket : socket;
  options.restore_dir = config->restore_dir;
  options.report_dir = config->report_dir;
  int n = sd_listen_fds(1);
  if (n > 1) {
    std::cerr << "warmbootd: systemd passed " << n << " sockets; expected one\n";
    return 1;
  }
  if (n == 1) options.listen_fd = SD_LISTEN_FDS_START;

  boost::asio::io_context io;
  auto server = daemon::Server::Create(io, options);
  if (!server.ok()) {
    std::cerr << "warmbootd: " << server.status().message() << "\n";
    return 1;
  }
  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (ec) return;
    (void)sd_notify(0, "STOPPING=1");
    (*server)->Stop();
  });
  (void)sd_notify(0, "READY=1");
  std::cerr << "warmbootd: serving "
            << (n == 1 ? std::string("the socket systemd passed") : options.socket_path) << "\n";
  io.run();
  return 0;
}
