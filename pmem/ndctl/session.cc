// Library contexts: one libndctl context per call, with what libndctl/libdaxctl log captured
// into the status of the call that failed.
#include <daxctl/libdaxctl.h>
#include <ndctl/libndctl.h>
#include <syslog.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>

#include "pmem/ndctl/internal.h"
#include "util/status.h"

namespace warmboot {
namespace ndctl_internal {

void LibLog::Add(int priority, const char* format, va_list args) {
  char buf[512];
  std::vsnprintf(buf, sizeof(buf), format, args);
  std::string line(buf);
  while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) line.pop_back();
  if (priority > LOG_ERR) {
    // Debug output someone asked for with NDCTL_LOG/DAXCTL_LOG: pass it through.
    std::fprintf(stderr, "%s\n", line.c_str());
    return;
  }
  if (lines_.size() == 4) lines_.erase(lines_.begin());
  lines_.push_back(std::move(line));
}

std::string LibLog::Suffix() const {
  if (lines_.empty()) return "";
  std::string out = " (library: ";
  for (size_t i = 0; i < lines_.size(); ++i) out += (i ? "; " : "") + lines_[i];
  return out + ")";
}

namespace {

void NdctlLog(struct ndctl_ctx* ctx, int priority, const char*, int, const char*,
              const char* format, va_list args) {
  if (auto* log = static_cast<LibLog*>(ndctl_get_userdata(ctx))) log->Add(priority, format, args);
}

void DaxctlLog(struct daxctl_ctx* ctx, int priority, const char*, int, const char*,
               const char* format, va_list args) {
  if (auto* log = static_cast<LibLog*>(daxctl_get_userdata(ctx))) log->Add(priority, format, args);
}

}  // namespace

Result<std::unique_ptr<Session>> Session::Open() {
  struct ndctl_ctx* ctx = nullptr;
  int rc = ndctl_new(&ctx);
  if (rc < 0 || ctx == nullptr) {
    return ErrnoError("cannot initialize libndctl (it needs libudev and libkmod)",
                      rc < 0 ? -rc : ENXIO);
  }
  return std::unique_ptr<Session>(new Session(ctx));
}

Session::~Session() {
  ndctl_unref(ctx_);
}

Session::Session(struct ndctl_ctx* ctx) : ctx_(ctx) {
  ndctl_set_userdata(ctx_, &log_);
  ndctl_set_log_fn(ctx_, NdctlLog);
  if (struct daxctl_ctx* dctx = ndctl_get_daxctl_ctx(ctx_)) {
    daxctl_set_userdata(dctx, &log_);
    daxctl_set_log_fn(dctx, DaxctlLog);
  }
}

Status Session::Error(const std::string& what, int rc) {
  int err = rc < 0 ? -rc : (rc > 0 ? rc : EIO);
  Status s = ErrnoError(what, err);
  Status out(s.code(), s.message() + log_.Suffix());
  log_.Clear();
  return out;
}

Status Session::Fail(Code code, const std::string& what) {
  Status out(code, what + log_.Suffix());
  log_.Clear();
  return out;
}

Status Hint(const Status& s, const std::string& hint) {
  return Status(s.code(), s.message() + "; " + hint);
}

}  // namespace ndctl_internal
}  // namespace warmboot
