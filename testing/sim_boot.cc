#include "testing/sim_boot.h"

#include <fstream>

#include "util/host_info.h"

namespace warmboot::testing {

Status WriteSimBoot(const std::string& dir, const ThisBoot& boot) {
  std::ofstream out(dir + "/boot", std::ios::trunc);
  out << UuidToString(boot.boot_id) << "\n" << boot.cmdline << "\n" << NowUnixNanos() << "\n";
  out.close();
  if (!out) return IoError("cannot write " + dir + "/boot");
  return Status::Ok();
}

std::optional<ThisBoot> ReadSimBoot(const std::string& dir) {
  std::ifstream in(dir + "/boot");
  std::string id;
  ThisBoot boot;
  if (!std::getline(in, id) || !ParseUuid(id, &boot.boot_id)) return std::nullopt;
  std::getline(in, boot.cmdline);
  return boot;
}

std::optional<int64_t> ReadSimBootedNs(const std::string& dir) {
  std::ifstream in(dir + "/boot");
  std::string id, cmdline;
  int64_t ns = 0;
  if (!std::getline(in, id) || !std::getline(in, cmdline) || !(in >> ns) || ns <= 0) {
    return std::nullopt;
  }
  return ns;
}

}  // namespace warmboot::testing
