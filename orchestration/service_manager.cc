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
Status Systemctl(const std::vector<std::string>& args) {
  std::vector<char*> argv{const_cast<char*>("systemctl")};
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid;
  SpawnSignalDefaults attr;
  int err = ::posix_spawnp(&pid, "systemctl", nullptr, attr.get(), argv.data(), environ);
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

class SystemdManager : public ServiceManager {
 public:
  bool Present() override { return sd_booted() > 0; }

  Result<std::string> UnitActiveState(const std::string& unit) override {
    WB_ASSIGN_OR_RETURN(sd_bus * bus, PrivateBus());
    sd_bus_error error = SD_BUS_ERROR_NULL;
    sd_bus_message* reply = nullptr;
    const char* path = nullptr;
    char* state = nullptr;
    // LoadUnit, not GetUnit: a unit that is not loaded is answered too (inactive).
    int r = sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                               "org.freedesktop.systemd1.Manager", "LoadUnit", &error, &reply, "s",
                               unit.c_str());
    if (r >= 0) r = sd_bus_message_read(reply, "o", &path);
    if (r >= 0) {
      r = sd_bus_get_property_string(bus, "org.freedesktop.systemd1", path,
                                     "org.freedesktop.systemd1.Unit", "ActiveState", &error,
                                     &state);
    }
    std::string result = state != nullptr ? state : "";
    std::string failure = r < 0 ? "cannot ask systemd about " + unit + ": " +
                                      (error.message != nullptr ? error.message : std::strerror(-r))
                                : "";
    std::free(state);
    sd_bus_error_free(&error);
    sd_bus_message_unref(reply);
    sd_bus_flush_close_unref(bus);
    if (!failure.empty()) return Status(Code::kIoError, failure);
    return result;
  }

  Result<bool> KexecPending() override {
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
        pending =
            pending || (std::strcmp(unit, "kexec.target") == 0 && std::strcmp(type, "start") == 0);
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
  Status StartReboot() override { return Systemctl({"reboot"}); }
};

}  // namespace

ServiceManager& RealServiceManager() {
  static SystemdManager manager;
  return manager;
}

}  // namespace warmboot
