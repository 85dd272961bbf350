#include "preserve/preserve.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>

#include "image/image_json.h"
#include "image/report_record.h"
#include "orchestration/machine_lock.h"
#include "orchestration/ownership_check.h"
#include "orchestration/report_store.h"
#include "pmem/pmem_json.h"
#include "preserve/reboot.h"
#include "util/bytes.h"
#include "util/deferred_signals.h"
#include "util/host_info.h"
#include "util/json_text.h"
#include "util/time_text.h"

namespace warmboot {
namespace {

PackOptions PackOptionsFrom(const Config& c) {
  PackOptions o;
  o.chunk_size = c.chunk_size;
  o.compression = c.compression;
  o.threads = c.threads;
  // Generations count across warm reboots: restore kept the last preserve report.
  auto last = LoadReport(c.report_dir, "preserve");
  // A damaged report (a field of the wrong type) counts as none: JsonInt, not value().
  if (last.ok() && last->is_object() && last->contains("pack")) {
    o.generation_floor =
        static_cast<uint64_t>(std::max<int64_t>(0, JsonInt((*last)["pack"], "generation")));
  }
  return o;
}

}  // namespace

nlohmann::json ToJson(const PreserveReport& r) {
  nlohmann::json j{{"ok", r.status.ok()},
                   {"dry_run", r.dry_run},
                   {"memory_removed", r.memory_removed},
                   {"image_sealed", r.image_sealed},
                   {"started_ns", r.started_ns},
                   {"phases", r.phases.ToJson()},
                   {"notes", r.notes}};
  j["offline_early_seconds"] = r.offline_early_seconds;
  j["handed_over_ns"] =
      r.handed_over_ns != 0 ? nlohmann::json(r.handed_over_ns) : nlohmann::json(nullptr);
  j["clock"] = {{"start", ToJson(r.clock_start)}};
  if (r.clock_last) j["clock"]["last"] = ToJson(*r.clock_last);
  if (!r.status.ok()) j["error"] = ToJson(r.status);
  if (r.device) j["device"] = ToJson(*r.device);
  if (r.plan) {
    j["plan"] = {{"entries", r.plan->entries},
                 {"raw_bytes", r.plan->raw_bytes},
                 {"worst_case_image_bytes", r.plan->worst_case_image_bytes},
                 {"capacity", r.capacity}};
  }
  if (r.pack) j["pack"] = ToJson(*r.pack);
  if (!r.checkpoint.is_null()) j["checkpoint"] = r.checkpoint;
  if (r.kexec) {
    j["kexec"] = ToJson(*r.kexec);
    j["kexec"]["loaded"] = r.kexec_load.has_value();
    if (r.kexec_load) j["kexec"].update(ToJson(*r.kexec_load));
  }
  return j;
}

namespace {

KexecSystem& KexecSys(const PreserveOptions& options) {
  return options.kexec_system != nullptr ? *options.kexec_system : RealKexecSystem();
}

// What a failed load leaves: a sealed image, memory out of System RAM, a running machine.
Status KexecLoadFailed(const Status& cause, const PreserveReport& r) {
  return Status(
      cause.code(),
      "the image is sealed on " + r.device->name + ", but the next kernel could not be loaded: " +
          cause.message() + ". The machine keeps running; " + HumanBytes(r.device->size) +
          " of pmem stay out of System RAM (the namespace is raw). Fix the cause and run "
          "'warmboot kexec', or run 'warmboot restore' now to take the state back and return "
          "the memory. A cold reboot keeps the image on an NVDIMM, but not on a memmap= region");
}

// A raw namespace may hold a sealed image an earlier boot left and nobody restored (its restore
// failed or kept it: no room, a stale image): the only copy of that state. A new image would be
// written over it. Refused unless the image was sealed in this boot, whose state is still the
// state directory's. What cannot be read is not taken for nothing.
Status CheckNoEarlierStateWaits(PmemPlatform& platform, const PmemInfo& info,
                                const ThisBoot& boot) {
  const std::string nothing = "; nothing changed";
  auto media = platform.OpenRawMedia(OpenMode::kReadOnly);
  if (!media.ok()) {
    return media.status().WithContext("cannot read " + info.name +
                                      " to check that no sealed image waits on it" + nothing);
  }
  auto device = ReadImageOnDevice(**media);
  if (!device.ok()) {
    return device.status().WithContext("cannot tell whether a sealed image waits on " + info.name +
                                       nothing);
  }
  if (!device->sealed()) return Status::Ok();
  const format::Header& h = device->image->header;
  const ImageJudgement judged = JudgeImage(h, boot);
  if (judged.intent == ImageIntent::kSameBoot) return Status::Ok();
  const std::string uuid = format::UuidToString(h.image_uuid);
  return InvalidArgument(
      "a sealed image of an earlier boot waits on " + info.name + " (generation " +
      std::to_string(h.generation) + ", " + HumanBytes(h.total_raw_bytes) + " of state, written " +
      HumanMoment(h.created_ns, NowUnixNanos()) + "), never restored: a new image would be " +
      "written over it. 'warmboot restore" +
      (judged.intent == ImageIntent::kStale ? " --image " + uuid : std::string()) +
      "' brings it back, 'warmboot discard --yes' gives it up" + nothing);
}

int Interrupted(const PreserveOptions& options) {
  return options.interrupted ? options.interrupted() : 0;
}

Status StoppedBefore(int sig) {
  return Status(Code::kInterrupted, std::string("interrupted by ") + SignalName(sig) +
                                        " before the point of no return; nothing changed");
}

PreserveReport RunPreserve(PmemPlatform& platform, const Config& config,
                           const PreserveOptions& options) {
  PreserveReport r;
  r.dry_run = options.dry_run;
  r.clock_start = TakeClockSnapshot();
  r.started_ns = r.clock_start.realtime_ns;
  r.handed_over_ns = options.handed_over_ns;
  r.offline_early_seconds = options.offline_early_seconds;
  if (r.offline_early_seconds > 0) {
    char took[32];
    std::snprintf(took, sizeof took, "%.3f", r.offline_early_seconds);
    r.notes.push_back(
        std::string("warmboot reboot took the memory out (offlined, hot-removed) in ") + took +
        " s before the services stopped: off the blackout");
  }
  PhaseLog& log = r.phases;

  // --- Plan: everything that can be checked is checked before the point of no return.
  {
    auto t = log.Start("probe device");
    auto info = platform.Probe();
    if (!info.ok()) {
      t.Done(false, info.status().message());
      r.status = info.status();
      return r;
    }
    r.device = *info;
    t.Done(true, std::string(PmemModeName(info->mode)) + ", " + HumanBytes(info->size));
    if (Status owned = CheckOwned(platform, *info, config); !owned.ok()) {
      r.status = owned.WithContext("nothing changed");
      return r;
    }
    if (info->mode == PmemMode::kDisabled) {
      r.status = InvalidArgument(info->name +
                                 " is disabled (a reconfiguration or rename that failed "
                                 "half-way). Nothing changed: run 'warmboot restore', which "
                                 "brings it back, then preserve again");
      return r;
    }
    if (info->mode != PmemMode::kSystemRam && info->mode != PmemMode::kDevdax &&
        info->mode != PmemMode::kRaw) {
      r.status =
          InvalidArgument(info->name + " is in " + PmemModeName(info->mode) +
                          " mode; warmboot expects system-ram, devdax or raw. Nothing changed.");
      return r;
    }
    if (info->mode == PmemMode::kRaw) {
      const ThisBoot boot = options.boot ? *options.boot : ReadThisBoot();
      if (Status s = CheckNoEarlierStateWaits(platform, *info, boot); !s.ok()) {
        r.earlier_image_waits = s.code() == Code::kInvalidArgument;
        r.status = s;
        return r;
      }
    }
    if (info->mode == PmemMode::kSystemRam && info->OnlineBlocks() < info->blocks.size()) {
      r.notes.push_back(std::to_string(info->blocks.size() - info->OnlineBlocks()) +
                        " memory block(s) were already offline");
    }
  }
  // The applications checkpoint first, while they still run: only sets completed by ready go
  // into the image (docs/api.md); the policy decides whether an incomplete round stops here.
  std::optional<CheckpointRound> round;
  if (options.checkpoint) {
    auto t = log.Start("checkpoint round");
    auto got = options.checkpoint(config.checkpoint_deadline_ms);
    if (!got.ok() && got.status().code() == Code::kNotFound) {
      t.Done(true, "warmbootd is not running: the state directory alone");
    } else if (!got.ok()) {
      t.Done(false, got.status().message());
      r.status = got.status().WithContext("the checkpoint round failed; nothing changed");
      return r;
    } else {
      round = std::move(*got);
      r.checkpoint = round->result;
      std::string detail = std::to_string(JsonInt(round->result, "ready")) + " app(s) ready";
      for (const std::string& n : round->not_ready) r.notes.push_back("starts cold: " + n);
      if (!round->complete && !config.continue_incomplete_checkpoint) {
        t.Done(false, detail + ", " + std::to_string(round->not_ready.size()) + " not");
        std::string who;
        for (const std::string& n : round->not_ready) who += (who.empty() ? "" : "; ") + n;
        r.status = Status(Code::kBusy, "not every application is ready (" + who +
                                           ") and incomplete_checkpoint = abort. Nothing "
                                           "changed: the applications keep running");
        return r;
      }
      t.Done(true, detail + (round->complete ? ""
                                             : ", " + std::to_string(round->not_ready.size()) +
                                                   " starting cold"));
    }
  }
  // Where every application keeps its state with warmbootd nothing makes the state directory
  // (in /run by default): an empty one, and the round's segments are the state.
  if (round) {
    std::error_code ec;  // what cannot be made, the plan below reports
    std::filesystem::create_directories(config.state_dir, ec);
  }
  // The image is written from this plan after the point of no return: the tree is walked once
  // and the fit checked here is the fit the write needs.
  std::optional<PackPlan> pack_plan;
  {
    auto t = log.Start("plan image");
    auto planned = PlanPack(config.state_dir, PackOptionsFrom(config),
                            round ? round->entries : std::vector<ExtraEntry>{});
    if (!planned.ok()) {
      t.Done(false, planned.status().message());
      r.status = planned.status().WithContext("cannot plan the image; nothing changed");
      return r;
    }
    pack_plan = *planned;
    const PackPlanSummary& plan = pack_plan->summary();
    r.plan = plan;
    // The raw namespace is the image's medium; the preserve report follows the image.
    r.capacity = r.device->size;
    uint64_t need = plan.worst_case_image_bytes + kReportRecordMax;
    t.Done(need <= r.capacity, HumanBytes(plan.raw_bytes) + " of state in " +
                                   std::to_string(plan.entries) + " entries, worst case " +
                                   HumanBytes(need) + " of " + HumanBytes(r.capacity));
    if (need > r.capacity) {
      r.status = NoSpace("the state does not fit: it needs up to " + HumanBytes(need) +
                         " (every chunk "
                         "stored raw, plus the report), " +
                         r.device->name + " holds " + HumanBytes(r.capacity) + ": short by " +
                         HumanBytes(need - r.capacity) +
                         ". Nothing changed: the memory stays online; reduce the state in " +
                         config.state_dir + " and try again");
      return r;
    }
  }
  // The image is named before anything is written: the next kernel's command line carries the
  // name, so its restore knows the image was meant for it (a stale one is left alone).
  PackOptions pack_options = PackOptionsFrom(config);
  pack_options.image_uuid = options.image_uuid ? *options.image_uuid : RandomUuid();
  if (options.kexec) {
    auto t = log.Start("check kexec");
    KexecRequest request = KexecRequestFromConfig(config);
    request.image_token = UuidToString(*pack_options.image_uuid);
    if (!r.device->labeled) {
      // Legacy (e820, memmap=) pmem: the next kernel must keep it reserved and load nowhere in it.
      request.legacy_pmem = LegacyPmem{r.device->name, {r.device->phys_start, r.device->size}};
    }
    auto plan = ResolveKexecPlan(request, KexecSys(options));
    Status s = plan.ok() ? CheckKexecPlan(&*plan, KexecSys(options)) : plan.status();
    if (!s.ok()) {
      t.Done(false, s.message());
      r.status = s.WithContext("cannot kexec into the next kernel; nothing changed");
      return r;
    }
    r.kexec = *plan;
    t.Done(true, plan->kernel + " via " + KexecLoaderName(plan->loader));
  }
  if (options.dry_run) {
    r.notes.push_back("dry run: planned only, nothing changed");
    return r;
  }
  if (int sig = Interrupted(options)) {
    r.status = StoppedBefore(sig);
    return r;
  }

  // --- The point of no return: memory out of System RAM (ToRaw rolls back if blocks refuse,
  // and when interrupted before the unbind).
  TransitionOptions transition = options.transition;
  if (!transition.interrupted) transition.interrupted = options.interrupted;
  if (Status s = ToRaw(platform, transition, &log); !s.ok()) {
    r.status = s;
    // ToRaw gives the memory back on every failure; the report says whether that worked.
    auto now = platform.Probe();
    r.memory_removed =
        !now.ok() || now->mode != PmemMode::kSystemRam || now->OnlineBlocks() < now->blocks.size();
    return r;
  }
  r.memory_removed = true;

  // The next kernel loads while the image is written, off the critical path. Not earlier: until
  // the memory left System RAM, the kernel could have put the next kernel's segments in it. A
  // kernel `warmboot reboot` loaded before the services stopped is kept.
  std::future<Result<KexecLoadReport>> loading;
  double load_seconds = 0;
  bool preloaded = false;
  if (options.kexec) {
    auto loaded = options.kexec_preloaded ? KexecLoaded(KexecSys(options)) : Result<bool>(false);
    preloaded = loaded.ok() && *loaded;
    if (!preloaded) {
      loading = std::async(std::launch::async, [&]() -> Result<KexecLoadReport> {
        auto t0 = std::chrono::steady_clock::now();
        auto load = LoadKexec(*r.kexec, KexecSys(options));
        load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        return load;
      });
    }
  }
  // Every way out without a sealed image: a kernel loaded meanwhile names that image on its
  // command line, so it goes again (nothing may jump into it).
  auto drop_load = [&] {
    if (!loading.valid()) return;
    auto load = loading.get();
    if (load.ok()) {
      Status s = UnloadKexec(KexecSys(options));
      if (!s.ok()) r.notes.push_back("could not unload the next kernel: " + s.message());
      ClearLoadedKernel(config);  // no kernel of warmboot's is loaded any more
    }
  };

  auto give_back = [&](const Status& cause) {
    drop_load();
    Status back = ToSystemRam(platform, options.transition, &log);
    r.status =
        Status(cause.code(), cause.message() + (back.ok() ? "; no image was sealed and the memory "
                                                            "is back in System RAM"
                                                          : "; no image was sealed, and giving the "
                                                            "memory back failed (" +
                                                                back.message() +
                                                                "): run 'warmboot restore' to "
                                                                "give it back"));
  };
  if (r.device->labeled) {
    // Named while nothing holds the device open: the label records that warmboot owns it.
    Status s = platform.SetLabelName("warmboot");
    r.notes.push_back(s.ok() ? "namespace label named 'warmboot'"
                             : "could not name the namespace label: " + s.message());
  }
  auto open = log.Start("open raw device");
  auto media = platform.OpenRawMedia(OpenMode::kReadWrite);
  open.Done(media.ok(), media.ok() ? (*media)->name() : media.status().message());
  if (!media.ok()) {
    give_back(media.status());
    return r;
  }
  {
    auto t = log.Start("write image");
    auto pack = PackImage(*pack_plan, **media, pack_options);
    if (!pack.ok()) {
      t.Done(false, pack.status().message());
      give_back(pack.status().WithContext("writing the image failed"));
      return r;
    }
    r.pack = *pack;
    r.image_sealed = true;
    t.Done(true, HumanBytes(pack->image_bytes) + " sealed, generation " +
                     std::to_string(pack->generation));
  }
  if (int sig = Interrupted(options)) {
    // Signals were held back while the image was written: it is whole and sealed. A kernel
    // loaded meanwhile goes again: an interrupted preserve does not leave the machine set up
    // to jump.
    drop_load();
    r.status = Status(Code::kInterrupted,
                      std::string("interrupted by ") + SignalName(sig) +
                          " after the point of no return: the image was completed and sealed on " +
                          r.device->name +
                          "; the next kernel is not loaded. 'warmboot kexec' reboots into it; "
                          "'warmboot restore' takes the state back and returns the memory");
  } else if (options.kexec) {
    // Before the report record, so the record the next boot reads says how the kernel loaded.
    // Its time is what the load still took once the image was sealed: the critical path.
    auto t = log.Start("kexec load");
    auto load = preloaded ? Result<KexecLoadReport>(KexecLoadReport{
                                r.kexec->loader, "loaded before the services stopped"})
                          : loading.get();
    if (load.ok()) {
      r.kexec_load = *load;
      std::string detail = load->note;
      if (!preloaded) {
        char took[32];
        std::snprintf(took, sizeof took, "%.2f", load_seconds);
        detail = std::string("loaded while the image was written (") + took + " s)" +
                 (detail.empty() ? "" : "; " + detail);
      }
      t.Done(true,
             std::string(KexecLoaderName(load->loader)) + (detail.empty() ? "" : ": " + detail));
    } else {
      r.status = KexecLoadFailed(load.status(), r);
      t.Done(false, load.status().message());
    }
  }
  {
    // The report goes after the image; restore hands it on after the reboot.
    auto t = log.Start("write report");
    r.clock_last = TakeClockSnapshot();
    Status s = WriteReportRecord(**media, r.pack->image_bytes, DumpJson(ToJson(r)));
    t.Done(s.ok(), s.ok() ? "" : s.message());
  }
  return r;
}

}  // namespace

PreserveReport Preserve(PmemPlatform& platform, const Config& config,
                        const PreserveOptions& options) {
  std::optional<MachineLock> lock;
  if (!options.dry_run) {
    auto taken = MachineLock::Acquire(config.lock_file, "preserve",
                                      std::chrono::milliseconds(config.lock_wait_ms));
    if (!taken.ok()) {
      PreserveReport r;
      r.started_ns = NowUnixNanos();
      r.status = taken.status();
      return r;  // not saved: the report on disk belongs to the command that holds the lock
    }
    lock.emplace(std::move(*taken));
  }
  PreserveReport r = RunPreserve(platform, config, options);
  if (!r.dry_run) {
    const nlohmann::json j = ToJson(r);
    Status s = SaveReport(config.report_dir, "preserve", j);
    if (!s.ok()) r.notes.push_back("report not saved: " + s.message());
    // Also where the next boot finds it (report_dir is in /run): a warm reboot that went cold
    // is told why from here.
    s = SaveReport(config.history_dir, "last-preserve", j);
    if (!s.ok()) r.notes.push_back("report not kept in " + config.history_dir + ": " + s.message());
  }
  return r;
}

}  // namespace warmboot
