#include "restore/restore.h"

#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "image/image_json.h"
#include "image/report_record.h"
#include "orchestration/report_store.h"
#include "pmem/pmem_json.h"
#include "util/host_info.h"

namespace warmboot {
namespace {

// A tmpfs sized for the state plus slack for metadata; mounted only when the directory is not
// on tmpfs already (it usually is: /run).
Status EnsureTmpfs(const std::string& dir, uint64_t bytes, bool may_mount,
                   std::vector<std::string>* notes) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return IoError("cannot create " + dir + ": " + ec.message());
  struct statfs fs;
  if (::statfs(dir.c_str(), &fs) != 0) return ErrnoError("cannot stat " + dir, errno);
  if (fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC) return Status::Ok();
  if (!may_mount) {
    notes->push_back(dir + " is not a tmpfs; restoring onto its filesystem");
    return Status::Ok();
  }
  uint64_t size = bytes + bytes / 8 + (64ull << 20);
  std::string opts = "size=" + std::to_string(size) + ",mode=0755";
  if (::mount("tmpfs", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, opts.c_str()) != 0) {
    return ErrnoError("cannot mount a tmpfs on " + dir, errno);
  }
  notes->push_back("mounted a " + std::to_string(size >> 20) + " MiB tmpfs on " + dir);
  return Status::Ok();
}

}  // namespace

const char* RestoreOutcomeName(RestoreOutcome o) {
  switch (o) {
    case RestoreOutcome::kRestored:
      return "restored";
    case RestoreOutcome::kPartial:
      return "partial";
    case RestoreOutcome::kNothingToRestore:
      return "nothing-to-restore";
    case RestoreOutcome::kAlreadyRestored:
      return "already-restored";
    case RestoreOutcome::kNoValidImage:
      return "no-valid-image";
    case RestoreOutcome::kFailed:
      return "failed";
  }
  return "unknown";
}

nlohmann::json ToJson(const RestoreReport& r) {
  nlohmann::json bad = nlohmann::json::array();
  for (const ByteRange& b : r.bad_ranges)
    bad.push_back({{"offset", b.offset}, {"length", b.length}});
  nlohmann::json j{{"ok", r.status.ok()},        {"outcome", RestoreOutcomeName(r.outcome)},
                   {"message", r.message},       {"memory_returned", r.memory_returned},
                   {"started_ns", r.started_ns}, {"phases", r.phases.ToJson()},
                   {"bad_ranges", bad},          {"notes", r.notes}};
  if (!r.status.ok()) j["error"] = ToJson(r.status);
  if (r.device) j["device"] = ToJson(*r.device);
  if (r.unpack) j["unpack"] = ToJson(*r.unpack);
  if (!r.preserve_report.is_null()) j["preserve_report"] = r.preserve_report;
  return j;
}

namespace {
RestoreReport RunRestore(PmemPlatform& platform, const Config& config,
                         const RestoreOptions& options) {
  RestoreReport r;
  r.started_ns = NowUnixNanos();
  PhaseLog& log = r.phases;

  auto probe = log.Start("probe device");
  auto info = platform.Probe();
  probe.Done(info.ok(), info.ok() ? PmemModeName(info->mode) : info.status().message());
  if (!info.ok()) {
    r.status = info.status();
    r.message = info.status().message();
    return r;
  }
  r.device = *info;

  if (info->mode == PmemMode::kRaw) {
    [&] {
      auto open = log.Start("open raw device");
      auto media = platform.OpenRawMedia(OpenMode::kReadWrite);
      open.Done(media.ok(), media.ok() ? (*media)->name() : media.status().message());
      if (!media.ok()) {
        r.status = media.status();
        r.message = "cannot open the raw device: " + media.status().message();
        return;
      }
      r.bad_ranges = (*media)->KnownBadRanges();
      auto look = log.Start("find image");
      if (!HasImageMagic(**media)) {
        look.Done(true, "none");
        r.outcome = RestoreOutcome::kNothingToRestore;
        r.message = "no image on " + (*media)->name() + " (a cold boot): nothing to restore";
        return;
      }
      // Header and seal decide; unpack then loads and checks the tables, once.
      auto inspect = InspectImage(**media, InspectDepth::kHeaderAndSeal);
      if (!inspect.ok() || inspect->state != ImageState::kSealed) {
        bool consumed = inspect.ok() && inspect->state == ImageState::kConsumed;
        std::string why = !inspect.ok() ? inspect.status().message()
                          : consumed
                              ? "the image was already restored (its seal is consumed)"
                              : inspect->seal_problem + ": the machine stopped while preserving";
        look.Done(consumed, why);
        r.outcome = consumed ? RestoreOutcome::kAlreadyRestored : RestoreOutcome::kNoValidImage;
        r.message =
            consumed ? why + "; nothing to do"
                     : "no sealed image on " + (*media)->name() + ": " + why + "; nothing restored";
        return;
      }
      look.Done(true, "generation " + std::to_string(inspect->header.generation) + ", " +
                          std::to_string(inspect->header.total_raw_bytes >> 20) + " MiB of state");
      auto mount = log.Start("prepare restore directory");
      Status s = EnsureTmpfs(config.restore_dir, inspect->header.total_raw_bytes,
                             options.mount_tmpfs, &r.notes);
      mount.Done(s.ok(), s.ok() ? config.restore_dir : s.message());
      if (!s.ok()) {
        r.status = s;
        r.message = s.message();
        return;
      }
      auto unpack_t = log.Start("unpack and verify");
      UnpackOptions uo;
      uo.threads = config.threads;
      uo.consume = true;
      uo.merge = true;  // a restore interrupted and run again finishes the job
      uo.restore_owner = ::geteuid() == 0;
      auto unpack = UnpackImage(**media, config.restore_dir, uo);
      if (!unpack.ok()) {
        unpack_t.Done(false, unpack.status().message());
        r.status = unpack.status().code() == Code::kNoImage ? Status() : unpack.status();
        r.outcome = unpack.status().code() == Code::kNoImage ? RestoreOutcome::kNoValidImage
                                                             : RestoreOutcome::kFailed;
        r.message = "restore failed: " + unpack.status().message();
        return;
      }
      unpack_t.Done(true, std::to_string(unpack->bytes_written >> 20) + " MiB, " +
                              std::to_string(unpack->damaged.size()) + " damaged segment(s)");
      r.unpack = *unpack;
      r.outcome = unpack->partial() ? RestoreOutcome::kPartial : RestoreOutcome::kRestored;
      r.message = unpack->partial() ? std::to_string(unpack->damaged.size()) +
                                          " damaged segment(s) quarantined in " +
                                          config.restore_dir + "/.quarantine; the rest is restored"
                                    : "state restored into " + config.restore_dir;
      auto pr = ReadReportRecord(**media, inspect->header.image_end);
      if (pr.ok()) {
        r.preserve_report = nlohmann::json::parse(*pr, nullptr, false);
        if (r.preserve_report.is_discarded()) r.preserve_report = nullptr;
      }
    }();
    // Known media errors are cleared before the memory becomes RAM again, or said plainly.
    if (!r.bad_ranges.empty()) {
      auto t = log.Start("clear media errors");
      Status s = platform.ClearErrors(r.bad_ranges);
      t.Done(s.ok(),
             s.ok() ? std::to_string(r.bad_ranges.size()) + " range(s) cleared" : s.message());
      if (!s.ok()) {
        r.notes.push_back("could not clear " + std::to_string(r.bad_ranges.size()) +
                          " known media error range(s): " + s.message() +
                          "; the kernel will meet them as RAM: run 'ndctl clear-errors'");
      }
    }
  } else {
    r.outcome = RestoreOutcome::kNothingToRestore;
    r.message = info->name + " is in " + PmemModeName(info->mode) +
                " mode: no preserve happened, nothing to restore";
  }

  // In every case the memory goes back to System RAM.
  Status back = ToSystemRam(platform, options.transition, &log);
  r.memory_returned = back.ok();
  if (!back.ok()) {
    r.notes.push_back("giving the memory back failed: " + back.message());
    if (r.status.ok()) r.status = back;
  }
  return r;
}

}  // namespace

RestoreReport Restore(PmemPlatform& platform, const Config& config, const RestoreOptions& options) {
  RestoreReport r = RunRestore(platform, config, options);
  if (!r.preserve_report.is_null()) {
    Status s = SaveReport(config.report_dir, "preserve", r.preserve_report);
    if (!s.ok()) r.notes.push_back("preserve report not saved: " + s.message());
  }
  Status s = SaveReport(config.report_dir, "restore", ToJson(r));
  if (!s.ok()) r.notes.push_back("report not saved: " + s.message());
  return r;
}

}  // namespace warmboot
