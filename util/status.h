// One error type for the whole library: Status (code + message) and Result<T> (a value or a
// Status), in the style of absl::Status / std::expected. The CLI maps codes to exit codes.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace warmboot {

enum class Code {
  kOk = 0,
  kInvalidArgument,  // bad input from the caller (a path, an option value)
  kNotFound,         // a file or device that should exist does not
  kIoError,          // the OS refused a read/write/sync
  kNoSpace,          // the state does not fit the image capacity
  kCorruption,       // damaged or crafted bytes that cannot be trusted
  kNoImage,          // no valid image: none, unsealed, unknown version, consumed
  kUnsupported,      // a file type or feature this version does not handle
  kPermission,       // EPERM/EACCES
  kBusy,             // a resource in use (EBUSY)
  kUsage,            // command-line misuse (exit code 2)
  kInterrupted,      // stopped by SIGTERM, SIGINT or SIGHUP where stopping was safe
};

const char* CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const;

  // Prefixes the message with what was being done ("pack: " + message).
  Status WithContext(const std::string& context) const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

Status InvalidArgument(std::string message);
Status NotFound(std::string message);
Status IoError(std::string message);
Status NoSpace(std::string message);
Status Corruption(std::string message);
Status NoImage(std::string message);
Status Unsupported(std::string message);
Status UsageError(std::string message);

// An errno-based error: "what: strerror(err)", with the code derived from errno.
Status ErrnoError(const std::string& what, int err);

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) { assert(!std::get<Status>(v_).ok()); }  // NOLINT

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace warmboot

#define WB_CONCAT_INNER(a, b) a##b
#define WB_CONCAT(a, b) WB_CONCAT_INNER(a, b)

// Returns early from the enclosing function when `expr` (a Status) is not ok.
#define WB_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::warmboot::Status wb_status_ = (expr);  \
    if (!wb_status_.ok()) return wb_status_; \
  } while (0)

// `WB_ASSIGN_OR_RETURN(auto x, Foo());` unwraps a Result or returns its Status.
#define WB_ASSIGN_OR_RETURN(lhs, expr) \
  WB_ASSIGN_OR_RETURN_IMPL(WB_CONCAT(wb_result_, __LINE__), lhs, expr)
#define WB_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(tmp).value()
