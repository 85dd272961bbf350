// warmbootd: the checkpoint API's daemon (docs/api.md). Runs standalone or socket-activated by
// systemd (warmbootd.socket); tells systemd it is ready (Type=notify) and keeps what apps hand
// over in systemd's fd store, so a restart or crash of the daemon does not lose it. One
// io_context, one thread; SIGTERM and SIGINT stop it.
#include <sys/socket.h>
#include <systemd/sd-daemon.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>

#include "daemon/server.h"
#include "orchestration/config.h"
#include "pmem/ndctl/platform.h"
#include "util/bytes.h"

namespace {

constexpr const char* kHelp =
    R"(usage: warmbootd [--config F] [--socket PATH] [--capacity BYTES]
                 [--max-connections N] [--max-connections-per-uid N]

Serves the checkpoint API (docs/api.md) on the configuration's api_socket (default
/run/warmboot/api.sock; --socket overrides it), or on the socket systemd passes (socket
activation). Serves what the last warm reboot restored for each application from the
configuration's restore_dir and report_dir. Under systemd it keeps what apps hand over in the
service's fd store (FileDescriptorStoreMax=), so a restart or crash of warmbootd loses nothing.
Refuses a hand-over that would take all apps' state past what the pmem namespace holds (its
size, found through libndctl; --capacity BYTES sets it, 0 turns the check off). Stops on
SIGTERM or SIGINT.

  --max-connections          connections served at once (default 1024)
  --max-connections-per-uid  of which one uid may hold (default 64)
)";

// The pmem namespace's size, or 0 (told why) when it cannot be found here.
uint64_t PmemCapacity(const warmboot::Config& config) {
  auto platform = warmboot::OpenRealPmemPlatform(config.namespace_name);
  auto info = platform.ok() ? (*platform)->Probe()
                            : warmboot::Result<warmboot::PmemInfo>(platform.status());
  if (!info.ok()) {
    std::cerr << "warmbootd: no capacity check (" << info.status().message()
              << "); --capacity sets one\n";
    return 0;
  }
  return info->size;
}

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
  std::optional<uint64_t> capacity;
  bool config_given = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* flag) -> std::optional<std::string> {
      const std::string f = flag;
      if (a == f && i + 1 < argc) return argv[++i];
      if (a.starts_with(f + "=")) return a.substr(f.size() + 1);
      return std::nullopt;
    };
    if (a == "--help" || a == "-h") {
      std::cout << kHelp;
      return 0;
    }
    if (auto v = value("--socket")) {
      socket = *v;
    } else if (a.starts_with("--max-connections")) {
      const std::string flag = a.starts_with("--max-connections-per-uid")
                                   ? "--max-connections-per-uid"
                                   : "--max-connections";
      auto v = value(flag.c_str());
      auto n = v ? Limit(*v) : std::nullopt;
      if (!n) {
        std::cerr << "warmbootd: " << flag << " takes a positive whole number\n";
        return 2;
      }
      (flag == "--max-connections" ? options.max_connections : options.max_connections_per_uid) =
          *n;
    } else if (auto v = value("--config")) {
      config_path = *v;
      config_given = true;
    } else if (auto v = value("--capacity")) {
      uint64_t n = 0;
      auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
      if (ec != std::errc() || end != v->data() + v->size()) {
        std::cerr << "warmbootd: --capacity takes a number of bytes, not '" << *v << "'\n";
        return 2;
      }
      capacity = n;
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
  options.limits.capacity = capacity ? *capacity : PmemCapacity(*config);

  // What systemd passes: the listening socket (socket activation), and what the last instance
  // kept in the fd store ("seg-ID", "journal-GEN").
  std::vector<daemon::NamedFd> kept;
  char** names = nullptr;
  int n = sd_listen_fds_with_names(1, &names);
  if (n < 0) {
    std::cerr << "warmbootd: cannot read the descriptors systemd passed: " << std::strerror(-n)
              << "\n";
    return 1;
  }
  for (int i = 0; i < n; ++i) {
    const int fd = SD_LISTEN_FDS_START + i;
    std::string name = names != nullptr && names[i] != nullptr ? names[i] : "";
    std::free(names != nullptr ? names[i] : nullptr);
    if (name.starts_with("seg-") || name.starts_with("journal-")) {
      kept.push_back({name, UniqueFd(fd)});
    } else if (sd_is_socket_unix(fd, SOCK_STREAM, 1, nullptr, 0) > 0 && options.listen_fd < 0) {
      options.listen_fd = fd;
    } else {
      std::cerr << "warmbootd: systemd passed a descriptor '" << name
                << "' that is neither its socket nor kept state; closing it\n";
      UniqueFd close_it(fd);
    }
  }
  std::free(names);
  // The socket systemd listens on (warmbootd.socket) is where applications connect; api_socket is
  // where warmboot reboot and the preserve ask for the checkpoint round. Apart, the round finds
  // no daemon and every warm reboot seals the state directory alone: said loudly.
  if (options.listen_fd >= 0 &&
      sd_is_socket_unix(options.listen_fd, SOCK_STREAM, 1, options.socket_path.c_str(), 0) <= 0) {
    std::cerr << "warmbootd: the socket systemd passed is not " << options.socket_path
              << " (api_socket): warmboot reboot and the preserve ask for the checkpoint round "
                 "there and will find no daemon. Make warmbootd.socket's ListenStream= and "
                 "api_socket the same path\n";
  }
  auto fd_store = daemon::SystemdFdStore();
  options.fd_store = fd_store.get();
  if (!fd_store && !kept.empty()) {
    std::cerr << "warmbootd: kept descriptors passed without $NOTIFY_SOCKET; ignoring them\n";
    kept.clear();
  }

  boost::asio::io_context io;
  auto server = daemon::Server::Create(io, std::move(options), std::move(kept));
  if (!server.ok()) {
    std::cerr << "warmbootd: " << server.status().message() << "\n";
    return 1;
  }
  daemon::Server& s = **server;
  const daemon::ReloadSummary& r = s.reload();
  for (const std::string& note : r.notes) std::cerr << "warmbootd: " << note << "\n";
  if (r.journal) {
    std::cerr << "warmbootd: brought back " << r.segments << " segment(s), " << HumanBytes(r.bytes)
              << ", from systemd's fd store";
    if (r.lost > 0) std::cerr << "; " << r.lost << " could not be (their apps are told at hello)";
    std::cerr << "\n";
  }
  if (!s.keeps()) {
    std::cerr << "warmbootd: what apps hand over is lost if warmbootd restarts ("
              << (s.keep_error().empty() ? "no service manager's fd store" : s.keep_error())
              << "); hello says so\n";
  }
  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (ec) return;
    (void)sd_notify(0, "STOPPING=1");
    s.Stop();
  });
  (void)sd_notify(0, "READY=1");
  std::cerr << "warmbootd: serving "
            << (s.options().listen_fd >= 0 ? std::string("the socket systemd passed")
                                           : s.options().socket_path)
            << "\n";
  io.run();
  return 0;
}
