#include "restore/boot_record.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>

#include "util/json_text.h"

namespace warmboot {
namespace {

// An error object's message ({"code", "message"}), or "".
std::string ErrorMessage(const nlohmann::json& report) {
  return report.is_object() && report.contains("error") ? JsonString(report["error"], "message")
                                                        : "";
}

std::string PreservedImage(const nlohmann::json& preserve) {
  return preserve.is_object() && preserve.contains("pack") ? JsonString(preserve["pack"], "uuid")
                                                           : "";
}

// The previous preserve's report speaks for this boot only when it is of the shutdown that led
// here: it wrote the image this boot names, or it ran after the last boot on record (so in the
// boot before this one). An older one, or a dry run, says nothing about this boot.
bool PreserveIsThisBoots(const BootFacts& f, const std::string& named) {
  const nlohmann::json& p = f.last_preserve;
  if (!p.is_object() || JsonBool(p, "dry_run")) return false;
  if (!named.empty() && PreservedImage(p) == named) return true;
  return f.last_boot.is_object() && JsonInt(p, "started_ns") > JsonInt(f.last_boot, "recorded_ns");
}

// A cold fallback's cause speaks for this boot when the boot that wrote it is the one before.
bool RebootCauseIsThisBoots(const BootFacts& f) {
  const nlohmann::json& c = f.reboot_cause;
  if (!c.is_object() || !f.last_boot.is_object()) return false;
  return JsonString(c, "boot_id") == JsonString(f.last_boot, "boot_id") ||
         JsonInt(c, "at_ns") > JsonInt(f.last_boot, "recorded_ns");
}

}  // namespace

const char* BootTypeName(BootType type) {
  switch (type) {
    case BootType::kWarm:
      return "warm";
    case BootType::kCold:
      return "cold";
    case BootType::kFailedWarm:
      return "failed-warm";
  }
  return "unknown";
}

BootRecord ClassifyBoot(const BootFacts& f) {
  BootRecord b;
  const nlohmann::json& r = f.restore;
  b.named_image = JsonString(r, "named_image");
  const std::string outcome = JsonString(r, "outcome");
  const std::string message = JsonString(r, "message");
  const std::string named = "this boot's command line names image " + b.named_image;
  const bool preserve_here = PreserveIsThisBoots(f, b.named_image);
  const nlohmann::json& p = f.last_preserve;
  const bool preserve_failed = preserve_here && !JsonBool(p, "ok");
  const std::string preserve_error = ErrorMessage(p);

  if (!r.is_object()) {
    b.type = BootType::kFailedWarm;
    b.reason = "no restore ran in this boot";
    if (preserve_failed) {
      b.used_last_preserve = true;
      b.reason += "; the previous boot's preserve failed: " + preserve_error;
    }
    return b;
  }
  if (!b.named_image.empty()) {
    if ((outcome == "restored" || outcome == "partial") &&
        JsonString(r, "image_intent") == "named") {
      b.type = BootType::kWarm;
      b.reason =
          outcome == "partial"
              ? "image " + b.named_image + " restored, damaged segments quarantined: " + message
              : "image " + b.named_image + " named on this boot's command line restored";
      return b;
    }
    if (outcome == "already-restored") {
      // Only an earlier restore of this boot consumes the named image: a boot's token is never
      // carried to the next kernel (kexec/kexec.h).
      b.type = BootType::kWarm;
      b.reason = "image " + b.named_image + " was restored by an earlier run in this boot";
      return b;
    }
    b.type = BootType::kFailedWarm;
    if (preserve_failed) {
      // The state never reached the device: the preserve's own error is the reason.
      b.used_last_preserve = true;
      b.reason = named + ", but the preserve that was to write it failed: " + preserve_error;
      return b;
    }
    const std::string error = ErrorMessage(r);
    b.reason = named + ", but " +
               (outcome == "nothing-to-restore" ? "the restore found no image: " + message
                : outcome == "no-valid-image"   ? "it cannot be restored: " + message
                : outcome == "stale-image"      ? "the device holds another image: " + message
                : outcome == "failed" ? "the restore failed: " + (error.empty() ? message : error)
                                      : "the restore restored another image (" + outcome + ", " +
                                            JsonString(r, "image_intent") + "): " + message);
    return b;
  }
  // No image named. A warm reboot may still have been meant: the previous preserve says so.
  if (preserve_failed) {
    b.type = BootType::kFailedWarm;
    b.used_last_preserve = true;
    b.reason = "the previous boot's preserve failed: " + preserve_error +
               "; this boot's command line names no image";
    return b;
  }
  if (preserve_here && outcome == "stale-image" && !PreservedImage(p).empty()) {
    b.type = BootType::kFailedWarm;
    b.used_last_preserve = true;
    b.reason = "the previous boot's preserve sealed image " + PreservedImage(p) +
               ", but this boot was not started by its kexec (its command line names no "
               "image): " +
               message;
    return b;
  }
  b.type = BootType::kCold;
  b.reason = "this boot's command line names no image";
  if (RebootCauseIsThisBoots(f)) {
    // Refused before the point of no return and made an ordinary reboot on purpose
    // (--fallback cold): nothing was lost, the machine came back cold, and this is why.
    b.used_reboot_cause = true;
    b.reason = "the warm reboot was refused and fell back to an ordinary one: " +
               JsonString(f.reboot_cause, "cause");
  }
  if (outcome == "failed") {
    const std::string error = ErrorMessage(r);
    b.reason += "; the restore failed: " + (error.empty() ? message : error);
  } else if (outcome == "stale-image" || outcome == "restored" || outcome == "partial") {
    b.reason += "; " + message;  // a stale image kept, or one restored by request or policy
  }
  return b;
}

nlohmann::json BootRecordJson(const BootRecord& b, const BootFacts& f, int64_t now_ns) {
  nlohmann::json j{{"boot_id", f.boot_id},
                   {"type", BootTypeName(b.type)},
                   {"reason", b.reason},
                   {"recorded_ns", now_ns}};
  j["named_image"] =
      b.named_image.empty() ? nlohmann::json(nullptr) : nlohmann::json(b.named_image);
  const nlohmann::json& r = f.restore;
  if (r.is_object()) {
    double seconds = 0;
    if (r.contains("phases") && r["phases"].is_array()) {
      for (const auto& ph : r["phases"]) seconds += PhaseSeconds(ph);
    }
    j["restore"] = {{"outcome", JsonString(r, "outcome")},
                    {"ok", JsonBool(r, "ok")},
                    {"ran_in", JsonString(r, "ran_in")},
                    {"started_ns", JsonInt(r, "started_ns")},
                    {"seconds", seconds},
                    {"memory_returned", JsonBool(r, "memory_returned")}};
    if (r.contains("error")) j["restore"]["error"] = r["error"];
  } else {
    j["restore"] = nullptr;
  }
  if (b.used_reboot_cause) j["reboot_cause"] = f.reboot_cause;
  if (b.used_last_preserve) {
    const nlohmann::json& p = f.last_preserve;
    j["last_preserve"] = {{"started_ns", JsonInt(p, "started_ns")},
                          {"ok", JsonBool(p, "ok")},
                          {"image_sealed", JsonBool(p, "image_sealed")}};
    j["last_preserve"]["image"] =
        PreservedImage(p).empty() ? nlohmann::json(nullptr) : nlohmann::json(PreservedImage(p));
    if (p.contains("error")) j["last_preserve"]["error"] = p["error"];
  }
  return j;
}

Result<HistoryTail> ReadHistoryTail(const std::string& dir, const std::string& boot_id) {
  const std::string path = dir + "/boots.jsonl";
  std::ifstream in(path);
  if (!in) return NotFound("no boot history in " + dir);
  HistoryTail tail;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) continue;  // torn by a power cut
    if (JsonString(j, "boot_id") == boot_id) {
      tail.this_boot_recorded = true;
    } else {
      tail.previous = std::move(j);
    }
  }
  return tail;
}

Result<nlohmann::json> LastBootOfType(const std::string& dir, const std::string& type) {
  std::ifstream in(dir + "/boots.jsonl");
  if (!in) return NotFound("no boot history in " + dir);
  nlohmann::json last;
  std::string line;
  while (std::getline(in, line)) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && JsonString(j, "type") == type) last = std::move(j);
  }
  return last;
}

Status AppendHistory(const std::string& dir, const nlohmann::json& record) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return IoError("cannot create " + dir + ": " + ec.message());
  const std::string path = dir + "/boots.jsonl";
  std::string line = DumpJson(record, -1) + "\n";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("cannot open " + path, errno);
  // A line torn by a power cut ends without a newline: this record would be glued onto it and
  // lost with it on every read. It starts on a line of its own.
  struct stat st;
  char last = '\n';
  if (::fstat(fd, &st) == 0 && st.st_size > 0 && ::pread(fd, &last, 1, st.st_size - 1) == 1 &&
      last != '\n') {
    line.insert(line.begin(), '\n');
  }
  // One write of a whole line under O_APPEND: lines never interleave.
  bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
            ::fsync(fd) == 0;
  int err = errno;
  ::close(fd);
  if (!ok) return ErrnoError("cannot append to " + path, err);
  return Status::Ok();
}

}  // namespace warmboot
