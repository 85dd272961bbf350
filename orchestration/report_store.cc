#include "orchestration/report_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "util/io.h"
#include "util/json_text.h"
#include "util/read_file.h"

namespace warmboot {

Status SaveReport(const std::string& dir, const std::string& name, const nlohmann::json& report) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return IoError("cannot create " + dir + ": " + ec.message());
  // A temporary name of this process's own: two writers of one report (a restarted unit and a
  // give-back, say) must not write into the same file and rename a mix of both into place.
  std::string path = dir + "/" + name + ".json", tmp = path + ".tmp." + std::to_string(::getpid());
  std::string text = DumpJson(report, 2) + "\n";
  ::unlink(tmp.c_str());  // left by a process of this pid that died before its rename
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("cannot write " + tmp, errno);
  int err = WriteAll(fd, text.data(), text.size());
  if (err == 0 && ::fsync(fd) != 0) err = errno;
  ::close(fd);
  if (err != 0) {
    ::unlink(tmp.c_str());
    return ErrnoError("cannot write " + tmp, err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    err = errno;
    ::unlink(tmp.c_str());
    return ErrnoError("cannot write " + path, err);
  }
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
  auto text = ReadRegularFile(path, kMaxReportBytes);
  if (!text.ok()) {
    if (text.status().code() == Code::kNotFound)
      return NotFound("no " + name + " report in " + dir);
    return text.status();
  }
  nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded()) return Corruption(path + " is not valid JSON");
  return j;
}

}  // namespace warmboot
