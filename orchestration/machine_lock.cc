#include "orchestration/machine_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "util/host_info.h"
#include "util/io.h"
#include "util/strings.h"

namespace warmboot {

Result<MachineLock> MachineLock::Acquire(const std::string& path, const std::string& command,
                                         std::chrono::milliseconds wait) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (!fd.valid()) return ErrnoError("cannot open the lock file " + path, errno);
  const auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) break;
    if (errno != EWOULDBLOCK && errno != EINTR) {
      return ErrnoError("cannot lock " + path, errno);
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      char buf[256];
      size_t n = 0;
      (void)PreadFull(fd.get(), buf, sizeof buf, 0, &n);
      std::string holder = Trim(std::string_view(buf, n));
      return Status(Code::kBusy, "another warmboot command holds " + path +
                                     (holder.empty() ? "" : " (" + holder + ")") +
                                     " after waiting " +
                                     std::to_string(wait.count() / 1000.0).substr(0, 4) +
                                     " s; nothing changed: let it finish, then try again");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::string who = "pid " + std::to_string(::getpid()) + ", warmboot " + command +
                    ", since unix time " + std::to_string(NowUnixNanos() / 1000000000) + "\n";
  if (::ftruncate(fd.get(), 0) == 0) (void)PwriteAll(fd.get(), who.data(), who.size(), 0);
  return MachineLock(std::move(fd));
}

}  // namespace warmboot
