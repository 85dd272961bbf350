#include "restore/restore.h"

#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <fstream>

#include "image/image_json.h"
#include "image/report_record.h"
#include "orchestration/machine_lock.h"
#include "orchestration/ownership_check.h"
#include "orchestration/report_store.h"
#include "pmem/pmem_json.h"
#include "restore/give_back.h"
#include "restore/restore_dir.h"
#include "util/bytes.h"
#include "util/host_info.h"
#include "util/json_text.h"
#include "util/time_text.h"

namespace warmboot {
namespace {

// A directory that is the root of its own mount (st_dev differs from its parent's).
bool IsMountPoint(const std::string& dir) {
  struct stat self, parent;
  if (::stat(dir.c_str(), &self) != 0) return false;
  if (::stat((dir + "/..").c_str(), &parent) != 0) return false;
  return self.st_dev != parent.st_dev;
}

// Room for the state before the first byte is written. The restore directory keeps what it
// holds (an interrupted restore is finished by merging); where its filesystem cannot hold the
// state too (the usual /run is 10-20 % of RAM), restore mounts its own tmpfs on it, sized from
// the image header, or grows the one an earlier attempt mounted.
// The NUMA node the restore's tmpfs should prefer, or -1: where kmem gives the pmem a node of
// its own (an NVDIMM: target_node is a memory-only node), the device's own node. The restored
// state and what the applications write into it later then stay off the pmem's memory once it
// is System RAM again, and the next preserve's offline has none of it to migrate.
int DramNode(const PmemInfo& info) {
  return info.numa_node >= 0 && info.target_node >= 0 && info.target_node != info.numa_node
             ? info.numa_node
             : -1;
}

Status PrepareRestoreDir(const std::string& dir, uint64_t state_bytes, bool may_mount,
                         int prefer_node, std::vector<std::string>* notes) {
  // restore_dir itself must not be a symbolic link: creating, sizing and mounting a tmpfs would
  // follow it and hide whatever directory it names (unpack refuses it only after the mount).
  struct stat lst;
  if (::lstat(dir.c_str(), &lst) == 0 && !S_ISDIR(lst.st_mode)) {
    return InvalidArgument(dir +
                           (S_ISLNK(lst.st_mode) ? " is a symbolic link" : " is not a directory") +
                           ": restore_dir must be a directory of warmboot's own; nothing was "
                           "written");
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return IoError("cannot create " + dir + ": " + ec.message());
  struct statfs fs;
  if (::statfs(dir.c_str(), &fs) != 0) return ErrnoError("cannot stat " + dir, errno);
  // Metadata and the temporary copy of the one file being replaced cost a little more.
  const uint64_t need = state_bytes + state_bytes / 64 + (16ull << 20);
  const uint64_t free_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_bsize;
  const bool tmpfs = fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC;
  // A tmpfs's pages are RAM: its size limit promises nothing about the memory being there.
  const uint64_t avail = MemAvailableBytes();
  if (tmpfs && need > avail) {
    return NoSpace("restoring needs " + HumanBytes(need) + " of memory in the tmpfs on " + dir +
                   ", and " + HumanBytes(avail) + " is available; nothing was written");
  }
  if (free_bytes >= need && (tmpfs || !may_mount)) {
    if (!tmpfs) notes->push_back(dir + " is not a tmpfs; restoring onto its filesystem");
    return Status::Ok();
  }
  if (!may_mount) {
    return NoSpace("restoring needs " + HumanBytes(need) + " in " + dir + ", which has " +
                   HumanBytes(free_bytes) + " free; nothing was written");
  }
  if (need > avail) {
    return NoSpace("restoring needs " + HumanBytes(need) + " of memory for a tmpfs on " + dir +
                   ", and " + HumanBytes(avail) + " is available; nothing was written");
  }
  const bool ours = tmpfs && IsMountPoint(dir);
  const uint64_t used = ours ? static_cast<uint64_t>(fs.f_blocks - fs.f_bfree) * fs.f_bsize : 0;
  const uint64_t size = used + need;
  // A tmpfs of its own: huge=within_size. The restore writes whole files it has sized first,
  // 2 MiB at a time (image/unpack.cc), so their pages come as 2 MiB pages where memory allows:
  // a third less time per byte restored, and fewer pages for the kernel to track; small files
  // keep 4 KiB pages. A kernel without transparent huge pages refuses the option (EINVAL): then
  // without it. A tmpfs already there is only grown: its huge= is whoever mounted it's choice.
  // Where the pmem has a node of its own, mpol=prefer keeps the pages on the device's node
  // (prefer, not bind: a full node spills rather than fails). Each option a kernel refuses
  // (EINVAL: no THP, no NUMA) is dropped in turn.
  std::string opts = "size=" + std::to_string(size) + ",mode=0755";
  const std::string mpol = prefer_node >= 0 ? ",mpol=prefer:" + std::to_string(prefer_node) : "";
  unsigned long flags = MS_NOSUID | MS_NODEV | (ours ? MS_REMOUNT : 0);
  int rc = -1, err = 0;
  std::string used_opts;
  std::vector<std::string> tries;  // most wished for first; a remount only grows
  if (!ours) {
    for (const std::string& t :
         {",huge=within_size" + mpol, mpol, std::string(",huge=within_size")}) {
      if (!t.empty() && std::find(tries.begin(), tries.end(), t) == tries.end()) tries.push_back(t);
    }
  }
  tries.push_back("");
  for (const std::string& extra : tries) {
    rc = ::mount("tmpfs", dir.c_str(), "tmpfs", flags, (opts + extra).c_str());
    err = errno;
    used_opts = extra;
    if (rc == 0 || err != EINVAL) break;
  }
  errno = err;
  if (rc != 0) {
    return ErrnoError(std::string("cannot ") + (ours ? "grow the tmpfs on " : "mount a tmpfs on ") +
                          dir + " (" + HumanBytes(size) + ")",
                      errno);
  }
  notes->push_back(
      (ours ? "grew the tmpfs on " : "mounted a tmpfs on ") + dir + " to " + HumanBytes(size) +
      (free_bytes < need ? " (its filesystem had " + HumanBytes(free_bytes) + " free)" : "") +
      (!mpol.empty() && used_opts.find("mpol") != std::string::npos
           ? ", its pages preferring node " + std::to_string(prefer_node) + " (the pmem's is " +
                 "its own)"
           : ""));
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
    case RestoreOutcome::kStale:
      return "stale-image";
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
                   {"bad_ranges", bad},          {"notes", r.notes},
                   {"image_kept", r.image_kept}, {"give_back_deferred", r.give_back_deferred}};
  j["named_image"] =
      r.named_image.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.named_image);
  j["image_intent"] =
      r.image_intent.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.image_intent);
  j["boot_id"] = r.boot_id;
  j["ran_in"] = r.ran_in;
  j["clock"] = {{"start", ToJson(r.clock_start)}};
  if (r.clock_end) j["clock"]["end"] = ToJson(*r.clock_end);
  if (!r.status.ok()) j["error"] = ToJson(r.status);
  if (r.device) j["device"] = ToJson(*r.device);
  if (r.unpack) j["unpack"] = ToJson(*r.unpack);
  if (!r.preserve_report.is_null()) j["preserve_report"] = r.preserve_report;
  if (!r.earlier_tree.empty()) j["earlier_tree"] = r.earlier_tree;
  return j;
}

namespace {
RestoreReport RunRestore(PmemPlatform& platform, const Config& config,
                         const RestoreOptions& options) {
  RestoreReport r;
  r.clock_start = options.clock ? options.clock() : TakeClockSnapshot();
  r.started_ns = r.clock_start.realtime_ns;
  PhaseLog& log = r.phases;
  const ThisBoot boot = options.boot ? *options.boot : ReadThisBoot();
  r.named_image = NamedImage(boot);
  r.boot_id = UuidToString(boot.boot_id);
  r.ran_in = options.ran_in;
  // What to do about a kept image (set where it is found).
  std::string kept_next;
  bool image_unknown = false;  // the device could not be read: kept as if an image waits
  const std::string meant = "this boot's command line names image " + r.named_image + " (" +
                            kImageTokenParam + "=), the state a warm reboot was to bring back";

  // Stops the restore with `s` as its error and message.
  auto fail = [&r](const Status& s) {
    r.status = s;
    r.message = s.message();
    return r;
  };
  auto probe = log.Start("probe device");
  auto info = platform.Probe();
  probe.Done(info.ok(), info.ok() ? PmemModeName(info->mode) : info.status().message());
  if (!info.ok()) return fail(info.status());
  r.device = *info;
  if (Status owned = CheckOwned(platform, *info, config); !owned.ok()) return fail(owned);
  if (info->mode == PmemMode::kDisabled) {
    // A reconfiguration or rename that failed half-way took it down. Up raw, nothing on it
    // changes: an image there is found and restored as from any raw namespace.
    auto up = log.Start("enable namespace (raw)");
    Status s = platform.EnableNamespace();
    if (s.ok()) {
      info = platform.Probe();
      if (!info.ok()) s = info.status();
    }
    up.Done(s.ok(), s.ok() ? PmemModeName(info->mode) : s.message());
    if (!s.ok()) return fail(s.WithContext("cannot enable " + r.device->name));
    r.device = *info;
    if (Status owned = CheckOwned(platform, *info, config); !owned.ok()) return fail(owned);
  }

  if (info->mode == PmemMode::kRaw) {
    [&] {
      auto open = log.Start("open raw device");
      auto media = platform.OpenRawMedia(OpenMode::kReadWrite);
      open.Done(media.ok(), media.ok() ? (*media)->name() : media.status().message());
      // Unknown is not "none": what cannot be read may be a sealed image, the only copy of the
      // state, and giving the memory back would overwrite it. Kept, and the run fails.
      auto unknown = [&](const Status& s) {
        r.status = s;
        r.message = "cannot tell whether a sealed image waits on " + r.device->name + " (" +
                    s.message() + ")";
        r.image_kept = true;
        image_unknown = true;
        kept_next =
            "fix the cause and run 'warmboot restore' again, or give whatever is there up with "
            "'warmboot discard --yes'";
      };
      if (!media.ok()) return unknown(media.status().WithContext("cannot open the raw device"));
      r.bad_ranges = (*media)->KnownBadRanges();
      auto look = log.Start("find image");
      auto found = ReadImageOnDevice(**media);
      if (!found.ok()) {
        look.Done(false, found.status().message());
        return unknown(found.status());
      }
      if (!found->written) {
        look.Done(true, "none");
        r.outcome = RestoreOutcome::kNothingToRestore;
        r.message = "no image on " + (*media)->name() + " (a cold boot): nothing to restore";
        if (!r.named_image.empty()) r.notes.push_back(meant + ", but the device holds no image");
        return;
      }
      // Header and seal decide; the room check (BytesToRestore) and unpack then read the tables
      // (metadata only, a few KiB per GiB of state).
      const std::optional<InspectReport>& inspect = found->image;
      if (!found->sealed()) {
        bool consumed = inspect && inspect->state == ImageState::kConsumed;
        std::string why = !inspect ? found->why_none
                          : consumed
                              ? "the image was already restored (its seal is consumed)"
                              : inspect->seal_problem + ": the machine stopped while preserving";
        look.Done(consumed, why);
        r.outcome = consumed ? RestoreOutcome::kAlreadyRestored : RestoreOutcome::kNoValidImage;
        r.message =
            consumed ? why + "; nothing to do"
                     : "no sealed image on " + (*media)->name() + ": " + why + "; nothing restored";
        if (!r.named_image.empty() &&
            !(consumed && UuidToString(inspect->header.image_uuid) == r.named_image)) {
          r.notes.push_back(meant + ", but " +
                            (inspect ? "the image on the device is " +
                                           UuidToString(inspect->header.image_uuid) + " (" +
                                           ImageStateName(inspect->state) + ")"
                                     : std::string("no image on the device can be read")));
        }
        return;
      }
      const format::Header& h = inspect->header;
      const std::string uuid = UuidToString(h.image_uuid);
      look.Done(true, "generation " + std::to_string(h.generation) + ", " +
                          std::to_string(h.total_raw_bytes >> 20) + " MiB of state, " + uuid);
      // Only the image this boot is meant to restore is restored on its own (this_boot.h).
      const ImageJudgement judged = JudgeImage(h, boot);
      kept_next = "fix the cause and run 'warmboot restore" +
                  (judged.intent == ImageIntent::kStale ? " --image " + uuid : std::string()) +
                  "' again, or run 'warmboot discard --yes' to give the state up";
      if (!options.image.empty() && options.image != uuid) {
        r.image_kept = true;
        r.image_intent = "stale";
        r.status = InvalidArgument("the sealed image on " + (*media)->name() + " is " + uuid +
                                   " (generation " + std::to_string(h.generation) + "), not " +
                                   options.image + "; nothing was restored");
        r.message = r.status.message();
        return;
      }
      if (judged.intent == ImageIntent::kNamed) {
        r.image_intent = "named";
      } else if (judged.intent == ImageIntent::kSameBoot) {
        r.image_intent = "same-boot";
        r.notes.push_back("restoring an image " + judged.reason);
      } else if (!options.image.empty()) {
        r.image_intent = "requested";
        r.notes.push_back("restoring image " + uuid + " on request, though " + judged.reason);
      } else if (config.restore_stale_images) {
        r.image_intent = "policy";
        r.notes.push_back("restoring image " + uuid +
                          " by the stale_images = restore policy, "
                          "though " +
                          judged.reason);
      } else {
        r.image_intent = "stale";
        r.image_kept = true;
        r.outcome = RestoreOutcome::kStale;
        kept_next = "run 'warmboot restore --image " + uuid +
                    "' to restore it, or 'warmboot discard --yes' to give it up";
        r.message = "the sealed image on " + (*media)->name() + " (generation " +
                    std::to_string(h.generation) + ", " + HumanBytes(h.total_raw_bytes) +
                    " of state), written " + HumanMoment(h.created_ns, NowUnixNanos()) +
                    ", was not meant for this boot: " + judged.reason + ". It was not restored";
        return;
      }
      // From here until the state is restored, the image is what holds it: a failure keeps
      // the namespace raw and the image sealed, so a second run can finish the job.
      r.image_kept = true;
      auto mount = log.Start("prepare restore directory");
      // What the restore writes, not the files' sizes: a sparse file's holes take no memory
      // (sized by the header, a large sparse file made a restorable state refused for ever).
      auto to_write = BytesToRestore(**media);
      Status s = PrepareRestoreDir(config.restore_dir,
                                   to_write.ok() ? *to_write : inspect->header.total_raw_bytes,
                                   options.mount_tmpfs, DramNode(*r.device), &r.notes);
      mount.Done(s.ok(), s.ok() ? config.restore_dir : s.message());
      if (!s.ok()) {
        r.status = s;
        r.message = "restore failed: " + s.message();
        return;
      }
      // Never merged into another image's tree (restore_dir.h).
      auto claimed = ClaimRestoreDir(config.restore_dir, uuid, &r.notes);
      if (!claimed.ok()) {
        r.status = claimed.status();
        r.message = "restore failed: " + claimed.status().message();
        return;
      }
      r.earlier_tree = *claimed;
      auto unpack_t = log.Start("unpack and verify");
      UnpackOptions uo;
      uo.threads = config.threads;
      uo.consume = true;
      uo.merge = true;  // a restore interrupted and run again finishes the job
      uo.restore_owner = ::geteuid() == 0;
      auto unpack = UnpackImage(**media, config.restore_dir, uo);
      if (!unpack.ok()) {
        unpack_t.Done(false, unpack.status().message());
        const bool no_image = unpack.status().code() == Code::kNoImage;
        r.status = no_image ? Status() : unpack.status();
        r.outcome = no_image ? RestoreOutcome::kNoValidImage : RestoreOutcome::kFailed;
        r.image_kept = !no_image;
        r.message = "restore failed: " + unpack.status().message();
        return;
      }
      r.image_kept = false;  // restored (or quarantined where damaged) and consumed
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
        // The record lies past the sealed image, outside the seal: a preserve that sealed but
        // never wrote its own leaves an earlier one's there (the same state size, the same
        // place). Only this image's report speaks for this restore.
        nlohmann::json j = nlohmann::json::parse(*pr, nullptr, false);
        const nlohmann::json pack = j.is_object() && j.contains("pack") ? j["pack"] : nullptr;
        if (JsonString(pack, "uuid") == uuid) {
          r.preserve_report = std::move(j);
        } else if (!j.is_discarded()) {
          r.notes.push_back("the preserve report on " + (*media)->name() +
                            " is another image's (an earlier preserve's): not used");
        }
      }
    }();
    // Known media errors are cleared before the memory becomes RAM again, or said plainly; never
    // under a kept image (clearing writes zeros: over its header, the image would be gone).
    if (!r.bad_ranges.empty() && !r.image_kept) {
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
                " mode, so no image is waiting on it: nothing to restore";
  }

  if (r.image_kept) {
    // The sealed image is the only copy of the state: it stays, and so does its memory.
    r.message += (image_unknown ? ". Whatever is on " + r.device->name + " stays as it is,"
                                : ". The sealed image is kept on " + r.device->name) +
                 " and its memory stays out of System RAM: " + kept_next;
    return r;
  }
  // Nothing is waiting on the namespace: its memory goes back to System RAM, now or, once a
  // state was restored, after the applications have started.
  const bool restored =
      r.outcome == RestoreOutcome::kRestored || r.outcome == RestoreOutcome::kPartial;
  if (options.give_back_late && restored && r.status.ok()) {
    const uint64_t avail = options.mem_available ? options.mem_available() : MemAvailableBytes();
    if (avail == UINT64_MAX) {
      r.notes.push_back(
          "the pmem goes back to System RAM now: the memory available cannot be read "
          "(/proc/meminfo) to leave it for after the applications start");
    } else if (avail >= config.give_back_late_reserve) {
      r.give_back_deferred = true;
      r.message +=
          "; the pmem goes back to System RAM after warmboot-state.target "
          "(warmboot-give-back.service, or 'warmboot give-back')";
      return r;
    } else {
      r.notes.push_back("the pmem goes back to System RAM now, not after the applications start: " +
                        HumanBytes(avail) + " is available after the restore, under " +
                        "give_back_late_reserve (" + HumanBytes(config.give_back_late_reserve) +
                        ")");
    }
  }
  Status back = ToSystemRam(platform, options.transition, &log);
  r.memory_returned = back.ok();
  if (!back.ok()) {
    r.notes.push_back("giving the memory back failed: " + back.message());
    // The state may be restored, yet the run failed: the message says both.
    r.message += "; but giving the memory back to System RAM failed (" + back.message() +
                 "): run 'warmboot restore' again once the cause is fixed";
    if (r.status.ok()) r.status = back;
  }
  return r;
}

// A run that restored no state (the image already consumed, nothing on the device, an error)
// in a boot whose restore did restore one must not replace that boot's report: it is the
// record of what came back and what was quarantined, which status, the timeline and the
// metrics read. This run goes to restore-last.json and a line in the kept report's
// "later_runs"; memory it gave back while the boot's give-back was still owed is recorded as
// that give-back. False when the report is this run's to write.
bool KeepThisBootsReport(const Config& config, RestoreReport& r) {
  if (r.outcome == RestoreOutcome::kRestored || r.outcome == RestoreOutcome::kPartial) return false;
  nlohmann::json kept = ThisBootsRestore(config, r.boot_id);
  if (kept.is_null()) return false;
  const std::string outcome = JsonString(kept, "outcome");
  if (outcome != RestoreOutcomeName(RestoreOutcome::kRestored) &&
      outcome != RestoreOutcomeName(RestoreOutcome::kPartial)) {
    return false;
  }
  const std::string path = config.report_dir + "/restore-last.json";
  if (Status s = SaveReport(config.report_dir, "restore-last", ToJson(r)); !s.ok()) {
    r.notes.push_back("report not saved: " + s.message());
  }
  nlohmann::json line{{"started_ns", r.started_ns},
                      {"outcome", RestoreOutcomeName(r.outcome)},
                      {"ok", r.status.ok()},
                      {"memory_returned", r.memory_returned}};
  if (!r.status.ok()) line["error"] = r.status.message();
  if (!kept["later_runs"].is_array()) kept["later_runs"] = nlohmann::json::array();
  kept["later_runs"].push_back(std::move(line));
  if (Status s = SaveReport(config.report_dir, "restore", kept); !s.ok()) {
    r.notes.push_back("this boot's restore report not updated: " + s.message());
  }
  r.notes.push_back("this boot's restore report (" + outcome + ") is kept; this run's is " + path);
  if (r.memory_returned) {
    GiveBackReport g;
    g.outcome = GiveBackOutcome::kGivenBack;
    g.message = "given back by a 'warmboot restore' run by hand";
    g.started_ns = r.started_ns;
    g.finished_ns = NowUnixNanos();
    RecordGiveBack(config, r.boot_id, g);
    r.notes.insert(r.notes.end(), g.notes.begin(), g.notes.end());
  }
  return true;
}

}  // namespace

nlohmann::json ThisBootsRestore(const Config& config, const std::string& boot_id) {
  auto restore = LoadReport(config.report_dir, "restore");
  return restore.ok() && restore->is_object() && JsonString(*restore, "boot_id") == boot_id
             ? *restore
             : nlohmann::json(nullptr);
}

RestoreReport Restore(PmemPlatform& platform, const Config& config, const RestoreOptions& options) {
  auto lock = MachineLock::Acquire(config.lock_file, "restore",
                                   std::chrono::milliseconds(config.lock_wait_ms));
  if (!lock.ok()) {
    RestoreReport r;
    r.started_ns = NowUnixNanos();
    r.status = lock.status();
    r.message = lock.status().message();
    return r;  // not saved: the report on disk belongs to the command that holds the lock
  }
  RestoreReport r = RunRestore(platform, config, options);
  r.clock_end = options.clock ? options.clock() : TakeClockSnapshot();
  if (!r.preserve_report.is_null()) {
    Status s = SaveReport(config.report_dir, "preserve", r.preserve_report);
    if (!s.ok()) r.notes.push_back("preserve report not saved: " + s.message());
  }
  if (KeepThisBootsReport(config, r)) return r;
  Status s = SaveReport(config.report_dir, "restore", ToJson(r));
  if (!s.ok()) r.notes.push_back("report not saved: " + s.message());
  return r;
}

Status Discard(PmemPlatform& platform, const Config& config, const RestoreOptions& options,
               PhaseLog* log, std::string* what) {
  WB_ASSIGN_OR_RETURN(MachineLock lock,
                      MachineLock::Acquire(config.lock_file, "discard",
                                           std::chrono::milliseconds(config.lock_wait_ms)));
  WB_ASSIGN_OR_RETURN(PmemInfo info, platform.Probe());
  WB_RETURN_IF_ERROR(CheckOwned(platform, info, config));
  *what = "no image was waiting";
  if (info.mode == PmemMode::kRaw) {
    auto t = log->Start("consume the image");
    auto media = platform.OpenRawMedia(OpenMode::kReadWrite);
    if (!media.ok()) {
      t.Done(false, media.status().message());
      return media.status();
    }
    auto inspect = InspectImage(**media, InspectDepth::kHeaderAndSeal);
    if (inspect.ok() && inspect->state == ImageState::kSealed) {
      Status s = ConsumeImage(**media);
      t.Done(s.ok(), s.ok() ? "" : s.message());
      if (!s.ok()) return s.WithContext("cannot mark the image consumed; nothing was discarded");
      *what = "discarded generation " + std::to_string(inspect->header.generation) + " (" +
              HumanBytes(inspect->header.total_raw_bytes) + " of state)";
    } else {
      t.Done(true, "no sealed image");
    }
  }
  return ToSystemRam(platform, options.transition, log);
}

}  // namespace warmboot
