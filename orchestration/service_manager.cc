#include "orchestration/service_manager.h"

#include <spawn.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "util/deferred_signals.h"

extern char** environ;

namespace warmboot {
namespace {

// systemctl, as an operator would run it: logind's inhibitors and the wall message included.
// `extra_env`: NAME=VALUE added to (or replacing in) warmboot's own environment.
Status Systemctl(const std::vector<std::string>& args,
                 const std::vector<std::string>& extra_env = {}) {
  std::vector<char*> argv{const_cast<char*>("systemctl")};
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (char** e = environ; *e != nullptr; ++e) {
    bool replaced = false;
    for (const std::string& x : extra_env) {
      const size_t eq = x.find('=');  // NAME=VALUE: a bare NAME would match every entry
      replaced = replaced || (eq != std::string::npos && std::strncmp(*e, x.c_str(), eq + 1) == 0);
    }
    if (!replaced) envp.push_back(*e);
  }
  for (const std::string& x : extra_env) envp.push_back(const_cast<char*>(x.c_str()));
  envp.push_back(nullptr);
  pid_t pid;
  SpawnSignalDefaults attr;
  int err = ::posix_spawnp(&pid, "systemctl", nullptr, attr.get(), argv.data(), envp.data());
  if (err != 0) return ErrnoError("cannot run systemctl", err);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return ErrnoError("cannot wait for systemctl", errno);
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string cmd = "systemctl";
    for (const std::string& a : args) cmd += " " + a;
    return Status(Code::kIoError,
                  "'" + cmd + "' failed (" +
                      (WIFEXITED(status) ? "exit " + std::to_string(WEXITSTATUS(status))
                                         : "killed by signal " + std::to_string(WTERMSIG(status))) +
                      ")");
  }
  return Status::Ok();
}

// systemd's own socket, as systemctl uses as root: the D-Bus daemon may already be stopped this
// late in a shutdown.
Result<sd_bus*> PrivateBus() {
  sd_bus* bus = nullptr;
  int r = sd_bus_new(&bus);
  if (r >= 0) r = sd_bus_set_address(bus, "unix:path=/run/systemd/private");
  if (r >= 0) r = sd_bus_start(bus);
  if (r < 0) {
    sd_bus_unref(bus);
    return ErrnoError("cannot reach systemd (/run/systemd/private)", -r);
  }
  return bus;
}

// The object path of `unit` on systemd's bus. LoadUnit, not GetUnit: a unit that is not loaded
// is answered too (inactive).
Result<std::string> UnitPath(sd_bus* bus, const std::string& unit) {
  sd_bus_error error = SD_BUS_ERROR_NULL;
  sd_bus_message* reply = nullptr;
  const char* p = nullptr;
  int r = sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                             "org.freedesktop.systemd1.Manager", "LoadUnit", &error, &reply, "s",
                             unit.c_str());
  if (r >= 0) r = sd_bus_message_read(reply, "o", &p);
  std::string path = r >= 0 ? p : "";
  std::string failure = r < 0 ? "cannot ask systemd about " + unit + ": " +
                                    (error.message != nullptr ? error.message : std::strerror(-r))
                              : "";
  sd_bus_error_free(&error);
  sd_bus_message_unref(reply);
  if (!failure.empty()) return Status(Code::kIoError, failure);
  return path;
}

class SystemdManager : public ServiceManager {
 public:
  bool Present() override { return sd_booted() > 0; }

  Result<std::string> UnitActiveState(const std::string& unit) override {
    WB_ASSIGN_OR_RETURN(sd_bus * bus, PrivateBus());
    auto path = UnitPath(bus, unit);
    sd_bus_error error = SD_BUS_ERROR_NULL;
    char* state = nullptr;
    int r = 0;
    if (path.ok()) {
      r = sd_bus_get_property_string(bus, "org.freedesktop.systemd1", path->c_str(),
                                     "org.freedesktop.systemd1.Unit", "ActiveState", &error,
                                     &state);
    }
    std::string result = state != nullptr ? state : "";
    std::string failure = !path.ok() ? path.status().message()
                          : r < 0
                              ? "cannot ask systemd about " + unit + ": " +
                                    (error.message != nullptr ? error.message : std::strerror(-r))
                              : "";
    std::free(state);
    sd_bus_error_free(&error);
    sd_bus_flush_close_unref(bus);
    if (!failure.empty()) return Status(Code::kIoError, failure);
    return result;
  }

  Result<bool> KexecPending() override { return StartJobFor("kexec.target"); }
  Result<bool> RebootPending() override { return StartJobFor("reboot.target"); }

  // Whether systemd has a start job for `target`.
  Result<bool> StartJobFor(const char* target) {
    WB_ASSIGN_OR_RETURN(sd_bus * bus, PrivateBus());
    int r = 0;
    sd_bus_error error = SD_BUS_ERROR_NULL;
    sd_bus_message* reply = nullptr;
    r = sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                           "org.freedesktop.systemd1.Manager", "ListJobs", &error, &reply, "");
    bool pending = false;
    std::string failure;
    if (r < 0) {
      failure = std::string("systemd's ListJobs failed: ") +
                (error.message != nullptr ? error.message : std::strerror(-r));
    } else if ((r = sd_bus_message_enter_container(reply, 'a', "(usssoo)")) >= 0) {
      uint32_t id;
      const char *unit, *type, *state, *job_path, *unit_path;
      while ((r = sd_bus_message_read(reply, "(usssoo)", &id, &unit, &type, &state, &job_path,
                                      &unit_path)) > 0) {
        pending = pending || (std::strcmp(unit, target) == 0 && std::strcmp(type, "start") == 0);
      }
      if (r < 0) failure = std::string("cannot read systemd's jobs: ") + std::strerror(-r);
    } else {
      failure = std::string("cannot read systemd's jobs: ") + std::strerror(-r);
    }
    sd_bus_error_free(&error);
    sd_bus_message_unref(reply);
    sd_bus_flush_close_unref(bus);
    if (!failure.empty()) return Status(Code::kIoError, failure);
    return pending;
  }

  Status StartKexec() override { return Systemctl({"kexec"}); }
  // A cold reboot stays cold: a kernel still loaded (its unload failed, or kexec-tools loaded
  // one) would otherwise make systemd 254 and later kexec, and the preserve seal the state.
  Status StartReboot() override { return Systemctl({"reboot"}, {"SYSTEMCTL_SKIP_AUTO_KEXEC=1"}); }

  Result<uint64_t> StartupFinishedMonotonicUs() override {
    WB_ASSIGN_OR_RETURN(sd_bus * bus, PrivateBus());
    sd_bus_error error = SD_BUS_ERROR_NULL;
    uint64_t finished = 0;
    int r = sd_bus_get_property_trivial(
        bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
        "org.freedesktop.systemd1.Manager", "FinishTimestampMonotonic", &error, 't', &finished);
    std::string failure = r < 0 ? std::string("cannot ask systemd when the boot finished: ") +
                                      (error.message != nullptr ? error.message : std::strerror(-r))
                                : "";
    sd_bus_error_free(&error);
    sd_bus_flush_close_unref(bus);
    if (!failure.empty()) return Status(Code::kIoError, failure);
    return finished;
  }

  Result<std::vector<UnitStart>> ServicesAfter(const std::string& target) override {
    WB_ASSIGN_OR_RETURN(sd_bus * bus, PrivateBus());
    std::vector<UnitStart> units;
    std::string failure;
    char** before = nullptr;
    auto target_path = UnitPath(bus, target);
    int r = target_path.ok() ? 0 : -1;
    if (!target_path.ok()) failure = target_path.status().message();
    if (r >= 0) {
      sd_bus_error error = SD_BUS_ERROR_NULL;
      r = sd_bus_get_property_strv(bus, "org.freedesktop.systemd1", target_path->c_str(),
                                   "org.freedesktop.systemd1.Unit", "Before", &error, &before);
      if (r < 0) {
        failure = "cannot read what is ordered after " + target + ": " +
                  (error.message != nullptr ? error.message : std::strerror(-r));
      }
      sd_bus_error_free(&error);
    }
    for (char** b = before; r >= 0 && b != nullptr && *b != nullptr; ++b) {
      const std::string unit = *b;
      if (unit.size() < 8 || unit.compare(unit.size() - 8, 8, ".service") != 0) continue;
      auto path = UnitPath(bus, unit);
      if (!path.ok()) {
        failure = path.status().message();
        break;
      }
      sd_bus_error error = SD_BUS_ERROR_NULL;
      char* state = nullptr;
      uint64_t entered = 0;
      r = sd_bus_get_property_string(bus, "org.freedesktop.systemd1", path->c_str(),
                                     "org.freedesktop.systemd1.Unit", "ActiveState", &error,
                                     &state);
      if (r >= 0) {
        r = sd_bus_get_property_trivial(bus, "org.freedesktop.systemd1", path->c_str(),
                                        "org.freedesktop.systemd1.Unit",
                                        "ActiveEnterTimestampMonotonic", &error, 't', &entered);
      }
      if (r >= 0) units.push_back({unit, state, entered});
      if (r < 0) {
        failure = "cannot read " + unit +
                  "'s state: " + (error.message != nullptr ? error.message : std::strerror(-r));
      }
      std::free(state);
      sd_bus_error_free(&error);
    }
    for (char** b = before; b != nullptr && *b != nullptr; ++b) std::free(*b);
    std::free(before);
    sd_bus_flush_close_unref(bus);
    if (!failure.empty()) return Status(Code::kIoError, failure);
    return units;
  }
};

}  // namespace

ServiceManager& RealServiceManager() {
  static SystemdManager manager;
  return manager;
}

}  // namespace warmboot
