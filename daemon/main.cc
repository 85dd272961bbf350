// warmbootd: the checkpoint API's daemon (docs/api.md). Runs standalone or socket-activated by
// systemd (warmbootd.socket); tells systemd it is ready (Type=notify). One io_context, one
// thread; SIGTERM and SIGINT stop it.
#include <systemd/sd-daemon.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstring>
#include <iostream>
#include <optional>

#include "daemon/server.h"
#include "orchestration/config.h"

namespace {

constexpr const char* kHelp =
    R"(usage: warmbootd [--config F] [--socket PATH] [--max-connections N]
                 [--max-connections-per-uid N]

Serves the checkpoint API (docs/api.md) on the configuration's api_socket (default
/run/warmboot/api.sock; --socket overrides it), or on the socket systemd passes (socket
activation). Serves what the last warm reboot restored for each application from the
configuration's restore_dir and report_dir. Stops on SIGTERM or SIGINT.

  --max-connections          connections served at once (default 1024)
  --max-connections-per-uid  of which one uid may hold (default 64)
)";

// A positive whole number for a limit flag, or nullopt.
std::optional<size_t> Limit(const std::string& text) {
  if (text.empty() || text.size() > 9 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  const size_t n = std::stoul(text);
  return n == 0 ? std::nullopt : std::optional<size_t>(n);
}

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
    } else if ((a == "--max-connections" || a == "--max-connections-per-uid") && i + 1 < argc) {
      auto n = Limit(argv[++i]);
      if (!n) {
        std::cerr << "warmbootd: " << a << " takes a positive whole number, not '" << argv[i]
                  << "'\n";
        return 2;
      }
      (a == "--max-connections" ? options.max_connections : options.max_connections_per_uid) = *n;
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
