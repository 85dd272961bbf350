#include "util/read_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "util/io.h"
#include "util/unique_fd.h"

namespace warmboot {

Result<std::string> ReadRegularFile(const std::string& path, uint64_t max_bytes) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused just below.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError("cannot open " + path, errno);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoError("cannot stat " + path, errno);
  if (S_ISDIR(st.st_mode)) return InvalidArgument(path + " is a directory, not a file");
  if (!S_ISREG(st.st_mode)) {
    return InvalidArgument(path + " is not a regular file (a FIFO, device or socket)");
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    return InvalidArgument(path + " is larger than " + std::to_string(max_bytes) +
                           " bytes: not what it should be");
  }
  // Up to one byte past the size seen: a file that grows meanwhile is cut there.
  std::string text(static_cast<size_t>(st.st_size) + 1, '\0');
  size_t got = 0;
  if (int err = ReadFull(fd.get(), text.data(), text.size(), &got); err != 0) {
    return ErrnoError("cannot read " + path, err);
  }
  text.resize(got);
  return text;
}

}  // namespace warmboot
