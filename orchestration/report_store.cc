#include "orchestration/report_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>

#include "util/json_text.h"

namespace warmboot {

Status SaveReport(const std::string& dir, const std::string& name, const nlohmann::json& report) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return IoError("cannot create " + dir + ": " + ec.message());
  std::string path = dir + "/" + name + ".json", tmp = path + ".tmp";
  std::string text = DumpJson(report, 2) + "\n";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("cannot write " + tmp, errno);
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  int err = errno;
  ::close(fd);
  if (!ok) return ErrnoError("cannot write " + tmp, err);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return ErrnoError("cannot write " + path, errno);
  // The rename too must reach the disk: a kexec follows, with no sync of its own.
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
  return Status::Ok();
}

Result<nlohmann::json> LoadReport(const std::string& dir, const std::string& name) {
  std::string path = dir + "/" + name + ".json";
  std::ifstream in(path);
  if (!in) return NotFound("no " + name + " report in " + dir);
  nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded()) return Corruption(path + " is not valid JSON");
  return j;
}

}  // namespace warmboot
