#include "util/status.h"

#include <cerrno>
#include <cstring>

namespace warmboot {

const char* CodeName(Code code) {
  switch (code) {
    case Code::kOk:
      return "ok";
    case Code::kInvalidArgument:
      return "invalid-argument";
    case Code::kNotFound:
      return "not-found";
    case Code::kIoError:
      return "io-error";
    case Code::kNoSpace:
      return "no-space";
    case Code::kCorruption:
      return "corruption";
    case Code::kNoImage:
      return "no-image";
    case Code::kUnsupported:
      return "unsupported";
    case Code::kPermission:
      return "permission";
    case Code::kBusy:
      return "busy";
    case Code::kUsage:
      return "usage";
    case Code::kInterrupted:
      return "interrupted";
  }
  return "unknown";
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  return message_;
}

Status Status::WithContext(const std::string& context) const {
  if (ok()) return *this;
  return Status(code_, context + ": " + message_);
}

Status InvalidArgument(std::string m) {
  return Status(Code::kInvalidArgument, std::move(m));
}
Status NotFound(std::string m) {
  return Status(Code::kNotFound, std::move(m));
}
Status IoError(std::string m) {
  return Status(Code::kIoError, std::move(m));
}
Status NoSpace(std::string m) {
  return Status(Code::kNoSpace, std::move(m));
}
Status Corruption(std::string m) {
  return Status(Code::kCorruption, std::move(m));
}
Status NoImage(std::string m) {
  return Status(Code::kNoImage, std::move(m));
}
Status Unsupported(std::string m) {
  return Status(Code::kUnsupported, std::move(m));
}
Status UsageError(std::string m) {
  return Status(Code::kUsage, std::move(m));
}

Status ErrnoError(const std::string& what, int err) {
  Code code = Code::kIoError;
  switch (err) {
    case ENOENT:
      code = Code::kNotFound;
      break;
    case EPERM:
    case EACCES:
      code = Code::kPermission;
      break;
    case ENOSPC:
      code = Code::kNoSpace;
      break;
    case EBUSY:
      code = Code::kBusy;
      break;
    case EINVAL:
      code = Code::kInvalidArgument;
      break;
    default:
      break;
  }
  return Status(code, what + ": " + std::strerror(err));
}

}  // namespace warmboot
