// unpack: sealed image -> directory tree. Files are written under temporary names and renamed
// into place once complete; damaged files go to .quarantine/files/ instead, and the report to
// .quarantine/report.json; nothing is created or followed outside the destination.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <set>

#include "image/chunk_loader.h"
#include "image/damage.h"
#include "image/image.h"
#include "image/image_json.h"
#include "image/image_reader.h"
#include "image/safe_path.h"
#include "util/host_info.h"
#include "util/io.h"
#include "util/json_text.h"
#include "util/parallel_for.h"
#include "util/timespec.h"

namespace warmboot {
namespace {

// The reserved top-level name (format.md 12.5): salvaged files go beneath kQuarantineFiles, so
// no state path can clash with the report.
constexpr const char* kQuarantine = ".quarantine";
constexpr const char* kQuarantineFiles = ".quarantine/files";
constexpr const char* kQuarantineReport = "report.json";

bool IsReserved(const std::string& path) {
  return path == kQuarantine || path.starts_with(std::string(kQuarantine) + "/");
}

// Seconds between two times, saturating: a time the file system clamped is off by years.
int64_t SecondsApart(const struct timespec& a, const struct timespec& b) {
  int64_t d;
  if (__builtin_sub_overflow(static_cast<int64_t>(a.tv_sec), static_cast<int64_t>(b.tv_sec), &d)) {
    return INT64_MAX;
  }
  return d < 0 ? (d == INT64_MIN ? INT64_MAX : -d) : d;
}
// A file is split into tasks of at most this many chunks so one large file uses every worker.
constexpr uint64_t kChunksPerTask = 16;
// Writes cover up to this many bytes, ending on a multiple of it in the file: a transparent
// huge page of x86-64 (and arm64 with 4 KiB pages).
constexpr uint64_t kWriteUnit = 2 << 20;

Result<bool> IsEmptyDir(int fd) {
  int d = ::dup(fd);
  if (d < 0) return ErrnoError("dup", errno);
  DIR* dir = ::fdopendir(d);
  if (dir == nullptr) {
    ::close(d);
    return ErrnoError("cannot read destination", errno);
  }
  bool empty = true;
  while (struct dirent* de = ::readdir(dir)) {
    std::string_view n = de->d_name;
    if (n != "." && n != "..") {
      empty = false;
      break;
    }
  }
  ::closedir(dir);
  return empty;
}

class Unpacker {
 public:
  Unpacker(Media& media, const std::string& dest, const UnpackOptions& options)
      : media_(media), dest_(dest), options_(options) {}

  Result<UnpackReport> Run() {
    auto start = std::chrono::steady_clock::now();
    WB_ASSIGN_OR_RETURN(img_, LoadImage(media_, SealRequirement::kSealed));
    WB_RETURN_IF_ERROR(OpenDestination());
    // The reserved name is restore's rule, not the reader's (format.md 12.5).
    for (LoadedSegment& s : img_.segments) {
      if (s.ok && IsReserved(s.path)) {
        s.ok = false;
        s.problem = "the name .quarantine is reserved for what restore salvages";
      }
    }
    damage_ = std::make_unique<DamageLog>(img_);
    // Named after the image: a run killed half-way (OOM, SIGKILL) leaves its temporaries under
    // the names the next run of the same image truncates and renames, not under names no run
    // takes again (they stayed in the restored tree, holding its memory).
    tmp_prefix_ = ".wb-tmp." + format::UuidToString(img_.header.image_uuid).substr(0, 8) + ".";

    MakeDirectories();
    if (Status s = WriteFiles(); !s.ok()) {
      RemoveAllTemps();
      return s.WithContext("the restore into " + dest_ +
                           " is incomplete (the image is untouched and still sealed)");
    }
    MakeSymlinks();
    FinishDirectories();
    if (!unwritten_.empty()) {
      RemoveAllTemps();
      return IoError(std::to_string(unwritten_.size()) +
                     " segment(s) could not be written or quarantined into " + dest_ + " (" +
                     first_unwritten_ +
                     "); the image is untouched and still sealed: fix the destination and unpack "
                     "again with --merge");
    }

    report_.header = img_.header;
    report_.seal = img_.seal;
    report_.segments = img_.segments.size();
    report_.chunks_verified = chunks_.load();
    report_.bytes_verified = report_.bytes_written = bytes_.load();
    report_.image_problems = img_.image_problems;
    report_.damaged = damage_->Take();
    std::sort(metadata_problems_.begin(), metadata_problems_.end(),
              [](const MetadataProblem& a, const MetadataProblem& b) { return a.index < b.index; });
    report_.metadata_problems = std::move(metadata_problems_);
    if (report_.partial()) WB_RETURN_IF_ERROR(WriteQuarantineReport());
    if (::syncfs(root_.get()) != 0) return ErrnoError("cannot sync " + dest_, errno);
    if (options_.consume) {
      WB_RETURN_IF_ERROR(ConsumeImage(media_));
      report_.consumed = true;
    }
    report_.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return std::move(report_);
  }

 private:
  // DEST is opened once, and everything happens beneath that descriptor. DEST itself must not be
  // a symlink (format.md 12.1): one planted where DEST is to be made (say in /tmp) would steer
  // the whole restore. Its parent directories are the caller's, as given.
  Status OpenDestination() {
    std::string path = dest_;
    while (path.size() > 1 && path.back() == '/') path.pop_back();  // "link/" would follow
    if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
      return ErrnoError("cannot create destination " + dest_, errno);
    }
    root_ = UniqueFd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!root_.valid()) {
      int err = errno;
      struct stat st;
      if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
        return InvalidArgument("destination " + dest_ +
                               " is a symbolic link; unpack does not follow it: name the "
                               "directory it points to");
      }
      return ErrnoError("cannot open destination " + dest_, err);
    }
    if (!options_.merge) {
      WB_ASSIGN_OR_RETURN(bool empty, IsEmptyDir(root_.get()));
      if (!empty) {
        return InvalidArgument("destination " + dest_ +
                               " is not empty; restore into an empty directory, or pass --merge "
                               "to replace files in it");
      }
    }
    return Status::Ok();
  }

  // A sound segment the destination would not take (a file in the way, no room, EIO): not
  // damage, so the unpack fails as a whole and the image is not consumed.
  void Fail(uint64_t i, const std::string& why) {
    std::lock_guard lock(unwritten_mu_);
    if (unwritten_.empty()) first_unwritten_ = img_.segments[i].path + ": " + why;
    unwritten_.insert(i);
  }
  bool Unwritten(uint64_t i) {
    std::lock_guard lock(unwritten_mu_);
    return unwritten_.count(i) != 0;
  }

  void MakeDirectories() {
    for (uint64_t i = 0; i < img_.segments.size(); ++i) {
      const LoadedSegment& s = img_.segments[i];
      if (!s.ok || s.record.type != format::EntryType::kDirectory) continue;
      auto [parent, name] = SplitParent(s.path);
      auto dir = OpenDirBeneath(root_.get(), parent, true);
      if (!dir.ok()) {
        Fail(i, dir.status().message());
        continue;
      }
      std::string n(name);
      if (::mkdirat(dir->get(), n.c_str(), 0700) != 0) {
        struct stat st;
        if (errno != EEXIST || ::fstatat(dir->get(), n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISDIR(st.st_mode)) {
          Fail(i, "cannot create directory: " + std::string(std::strerror(errno ? errno : EEXIST)));
          continue;
        }
      }
      ++report_.directories;
    }
  }

  struct Task {
    uint64_t segment, begin, end;
    bool create;  // the segment's only task creates the temporary file itself
  };

  Status WriteFiles() {
    std::vector<Task> tasks;
    std::vector<std::vector<Task>> split;  // files cut into several tasks
    remaining_ = std::make_unique<std::atomic<uint32_t>[]>(img_.segments.size());
    for (uint64_t i = 0; i < img_.segments.size(); ++i) {
      const LoadedSegment& s = img_.segments[i];
      if (!s.ok || s.record.type != format::EntryType::kFile) continue;
      uint64_t n =
          std::max<uint64_t>(1, (s.record.chunk_count + kChunksPerTask - 1) / kChunksPerTask);
      if (n > 1) {
        // Several workers will open the file: create it now, once.
        auto fd = CreateTemp(i);
        if (!fd.ok()) {
          Fail(i, fd.status().message());
          continue;
        }
      }
      remaining_[i] = static_cast<uint32_t>(n);
      if (n == 1) {
        tasks.push_back({i, 0, s.record.chunk_count, true});
        continue;
      }
      split.emplace_back();
      for (uint64_t t = 0; t < n; ++t) {
        split.back().push_back({i, t * kChunksPerTask,
                                std::min(s.record.chunk_count, (t + 1) * kChunksPerTask), false});
      }
    }
    // Round-robin over the large files, so workers running side by side write different files
    // rather than queue on one file's write lock.
    for (size_t round = 0, added = 1; added; ++round) {
      added = 0;
      for (const auto& file : split) {
        if (round < file.size()) {
          tasks.push_back(file[round]);
          ++added;
        }
      }
    }
    const unsigned threads = EffectiveThreads(options_.threads);
    // Each worker loads up to a write's worth of consecutive chunks, one loader (buffer) each;
    // at most 8, so an image of small chunks does not cost a decompressor per 4 KiB.
    const uint32_t per_write = static_cast<uint32_t>(
        std::clamp<uint64_t>(kWriteUnit / std::max<uint32_t>(1, img_.header.chunk_size), 1, 8));
    std::vector<std::vector<std::unique_ptr<ChunkLoader>>> loaders(threads);
    for (unsigned w = 0; w < threads; ++w) {
      for (uint32_t k = 0; k < per_write; ++k) {
        loaders[w].push_back(
            std::make_unique<ChunkLoader>(media_, img_.header.chunk_size, media_.KnownBadRanges()));
      }
    }
    return ParallelFor(tasks.size(), threads,
                       [&](size_t n, unsigned w) { return RunTask(tasks[n], loaders[w]); });
  }

  std::string TempName(uint64_t i) const { return tmp_prefix_ + std::to_string(i); }

  Result<UniqueFd> CreateTemp(uint64_t i) {
    auto [parent, name] = SplitParent(img_.segments[i].path);
    WB_ASSIGN_OR_RETURN(UniqueFd dir, OpenDirBeneath(root_.get(), parent, true));
    return CreateTemp(i, dir.get());
  }

  // In the file's directory `dirfd`, which the task creating the file has open already:
  // walking the path to it again, a component at a time, cost more than creating a small file.
  Result<UniqueFd> CreateTemp(uint64_t i, int dirfd) {
    const LoadedSegment& s = img_.segments[i];
    UniqueFd fd(::openat(dirfd, TempName(i).c_str(),
                         O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd.valid()) return ErrnoError("cannot create " + s.path, errno);
    if (::ftruncate(fd.get(), static_cast<off_t>(s.record.size)) != 0) {
      return ErrnoError("cannot size " + s.path, errno);
    }
    return fd;
  }

  Status RunTask(const Task& t, const std::vector<std::unique_ptr<ChunkLoader>>& loaders) {
    const LoadedSegment& s = img_.segments[t.segment];
    auto [parent, name] = SplitParent(s.path);
    auto dir = OpenDirBeneath(root_.get(), parent, true);
    if (!dir.ok()) {
      Fail(t.segment, dir.status().message());
      return Abandon(t.segment);
    }
    UniqueFd fd;
    if (t.create) {
      auto created = CreateTemp(t.segment, dir->get());
      if (!created.ok()) {
        Fail(t.segment, created.status().message());
        return Abandon(t.segment);
      }
      fd = std::move(*created);
    } else {
      fd = UniqueFd(
          ::openat(dir->get(), TempName(t.segment).c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC));
      if (!fd.valid()) {
        Fail(t.segment,
             "cannot reopen the file being restored: " + std::string(std::strerror(errno)));
        return Abandon(t.segment);
      }
    }
    // Consecutive sound chunks go out in one write, up to the next kWriteUnit boundary of the
    // file: a huge-page tmpfs (restore mounts one) then fills each 2 MiB page in one copy,
    // where a write of half a page first zeroes the other half.
    std::vector<struct iovec> batch;
    uint64_t batch_at = 0, batch_end = 0;
    auto flush = [&]() -> int {
      if (batch.empty()) return 0;
      int err = PwritevAll(fd.get(), batch.data(), static_cast<int>(batch.size()), batch_at);
      if (err == 0) bytes_.fetch_add(batch_end - batch_at, std::memory_order_relaxed);
      batch.clear();
      return err;
    };
    for (uint64_t k = t.begin; k < t.end; ++k) {
      uint64_t c = s.record.first_chunk + k;
      ByteRange range = ChunkFileRange(img_.header, s.record, k);
      if (!img_.chunk_problems[c].empty()) {
        damage_->Add(t.segment, range,
                     "chunk " + std::to_string(c) + ": " + img_.chunk_problems[c]);
        continue;
      }
      if (!batch.empty() && range.offset != batch_end) {  // a full batch went out already
        if (int err = flush(); err != 0) {
          return ErrnoError("cannot write " + dest_ + "/" + s.path, err);
        }
      }
      std::span<const uint8_t> data;
      Status ls = loaders[batch.size()]->Load(img_.chunks[c], &data);
      if (!ls.ok()) {
        damage_->Add(t.segment, range, "chunk " + std::to_string(c) + ": " + ls.message());
        continue;
      }
      chunks_.fetch_add(1, std::memory_order_relaxed);
      if (data.empty()) continue;  // zero chunk: the file was sized with a hole there
      if (batch.empty()) batch_at = range.offset;
      batch.push_back({const_cast<uint8_t*>(data.data()), data.size()});
      batch_end = range.offset + data.size();
      if (batch_end % kWriteUnit == 0 || batch.size() == loaders.size()) {
        if (int err = flush(); err != 0) {
          return ErrnoError("cannot write " + dest_ + "/" + s.path, err);
        }
      }
    }
    if (int err = flush(); err != 0) return ErrnoError("cannot write " + dest_ + "/" + s.path, err);
    if (remaining_[t.segment].fetch_sub(1) == 1) return Finish(t.segment, dir->get(), fd.get());
    return Status::Ok();
  }

  // A task that could not write: the file's last task removes the temporary file (nothing of it
  // can be salvaged into quarantine without a descriptor).
  Status Abandon(uint64_t i) {
    if (remaining_[i].fetch_sub(1) == 1) RemoveTemp(i);
    return Status::Ok();
  }

  void RemoveTemp(uint64_t i) {
    auto [parent, name] = SplitParent(img_.segments[i].path);
    auto dir = OpenDirBeneath(root_.get(), parent, false);
    if (dir.ok()) ::unlinkat(dir->get(), TempName(i).c_str(), 0);
  }

  // After a hard failure (the destination refused a write): no temporary files are left behind.
  void RemoveAllTemps() {
    for (uint64_t i = 0; i < img_.segments.size(); ++i) {
      const LoadedSegment& s = img_.segments[i];
      if (s.ok && s.record.type == format::EntryType::kFile) RemoveTemp(i);
    }
  }

  // The last task of a file sets its metadata and renames it into place (or into quarantine).
  Status Finish(uint64_t i, int dirfd, int fd) {
    const LoadedSegment& s = img_.segments[i];
    const format::SegmentRecord& r = s.record;
    auto [parent, name] = SplitParent(s.path);
    // Another task of this file could not write its part: the file is absent, never in place
    // with a range of zeros (the unpack fails and the image stays sealed for another run).
    if (Unwritten(i)) {
      ::unlinkat(dirfd, TempName(i).c_str(), 0);
      return Status::Ok();
    }
    // chown before chmod: chown clears set-id bits.
    if (options_.restore_owner && ::fchown(fd, r.uid, r.gid) != 0) {
      return ErrnoError("cannot set the owner of " + s.path, errno);
    }
    if (::fchmod(fd, r.mode) != 0) return ErrnoError("cannot set the mode of " + s.path, errno);
    struct timespec times[2] = {TimespecFromNanos(r.mtime_ns), TimespecFromNanos(r.mtime_ns)};
    if (::futimens(fd, times) != 0) return ErrnoError("cannot set the time of " + s.path, errno);
    CheckMetadata(i, fd, nullptr);
    std::string tmp = TempName(i), final_name(name);
    if (damage_->IsDamaged(i)) {
      // Into DEST/.quarantine/files/<path>. A quarantine that cannot be made because something
      // of that name is in the way (from an earlier restore merged into) is said, not fatal.
      // Any other failure (no space, no memory, I/O) fails the unpack: the salvaged bytes
      // would be lost while the image is consumed; kept sealed, another run salvages them.
      std::string qparent =
          std::string(kQuarantineFiles) + (parent.empty() ? "" : "/" + std::string(parent));
      auto qdir = OpenDirBeneath(root_.get(), qparent, true);
      if (!qdir.ok() || ::renameat(dirfd, tmp.c_str(), qdir->get(), final_name.c_str()) != 0) {
        const int err = qdir.ok() ? errno : 0;
        std::string why = qdir.ok() ? std::strerror(err) : qdir.status().message();
        ::unlinkat(dirfd, tmp.c_str(), 0);
        const bool in_the_way =
            qdir.ok() ? (err == EISDIR || err == ENOTEMPTY || err == ENOTDIR || err == EEXIST)
                      : qdir.status().code() == Code::kCorruption;
        if (!in_the_way) {
          Fail(i, "cannot quarantine it: " + why);
          return Status::Ok();
        }
        damage_->NoteNotQuarantined(i, why);
        return Status::Ok();
      }
      damage_->SetQuarantined(i, std::string(kQuarantineFiles) + "/" + s.path);
      return Status::Ok();
    }
    if (::renameat(dirfd, tmp.c_str(), dirfd, final_name.c_str()) != 0) {
      int err = errno;
      ::unlinkat(dirfd, tmp.c_str(), 0);
      Fail(i, "cannot put the file in place: " + std::string(std::strerror(err)));
      return Status::Ok();
    }
    files_.fetch_add(1, std::memory_order_relaxed);
    return Status::Ok();
  }

  void MakeSymlinks() {
    for (uint64_t i = 0; i < img_.segments.size(); ++i) {
      const LoadedSegment& s = img_.segments[i];
      if (!s.ok || s.record.type != format::EntryType::kSymlink) continue;
      auto [parent, name] = SplitParent(s.path);
      auto dir = OpenDirBeneath(root_.get(), parent, true);
      if (!dir.ok()) {
        Fail(i, dir.status().message());
        continue;
      }
      std::string tmp = TempName(i), final_name(name);
      // What a killed run of this image left under this name goes first (symlinkat would
      // refuse it, on every run after).
      ::unlinkat(dir->get(), tmp.c_str(), 0);
      // The link is created, never followed: its target may point anywhere.
      if (::symlinkat(s.target.c_str(), dir->get(), tmp.c_str()) != 0) {
        Fail(i, "cannot create symlink: " + std::string(std::strerror(errno)));
        continue;
      }
      if (options_.restore_owner) {
        ::fchownat(dir->get(), tmp.c_str(), s.record.uid, s.record.gid, AT_SYMLINK_NOFOLLOW);
      }
      struct timespec times[2] = {TimespecFromNanos(s.record.mtime_ns),
                                  TimespecFromNanos(s.record.mtime_ns)};
      if (::utimensat(dir->get(), tmp.c_str(), times, AT_SYMLINK_NOFOLLOW) == 0) {
        CheckMetadata(i, dir->get(), tmp.c_str());
      }
      if (::renameat(dir->get(), tmp.c_str(), dir->get(), final_name.c_str()) != 0) {
        int err = errno;
        ::unlinkat(dir->get(), tmp.c_str(), 0);
        Fail(i, "cannot put the symlink in place: " + std::string(std::strerror(err)));
        continue;
      }
      ++report_.symlinks;
    }
  }

  // Directory metadata last (creating entries changes a directory's mtime), children first.
  void FinishDirectories() {
    for (uint64_t i = img_.segments.size(); i-- > 0;) {
      const LoadedSegment& s = img_.segments[i];
      if (!s.ok || s.record.type != format::EntryType::kDirectory || damage_->IsDamaged(i))
        continue;
      auto dir = OpenDirBeneath(root_.get(), s.path, false);
      if (!dir.ok()) {
        Fail(i, dir.status().message());
        continue;
      }
      if (options_.restore_owner) ::fchown(dir->get(), s.record.uid, s.record.gid);
      ::fchmod(dir->get(), s.record.mode);
      struct timespec times[2] = {TimespecFromNanos(s.record.mtime_ns),
                                  TimespecFromNanos(s.record.mtime_ns)};
      if (::futimens(dir->get(), times) == 0) CheckMetadata(i, dir->get(), nullptr);
    }
    report_.files = files_.load();
  }

  // What the file system kept of a restored entry's metadata (format.md 12.4): an owner of
  // 4294967295 is (uid_t)-1, which chown takes as "leave unchanged", and an mtime outside what
  // the file system stores is clamped by the kernel. Neither fails a call; both are reported.
  // `name` is an entry in directory `fd`, or nullptr for `fd` itself.
  void CheckMetadata(uint64_t i, int fd, const char* name) {
    const format::SegmentRecord& r = img_.segments[i].record;
    struct stat st;
    int rc = name ? ::fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) : ::fstat(fd, &st);
    if (rc != 0) return;
    std::vector<std::string> problems;
    if (options_.restore_owner && (r.uid == UINT32_MAX || r.gid == UINT32_MAX)) {
      const char* which = r.uid == UINT32_MAX ? "uid" : "gid";
      problems.push_back(std::string(which) +
                         " 4294967295 cannot be set (it is (uid_t)-1, \"leave unchanged\" to "
                         "chown): the owner is " +
                         std::to_string(st.st_uid) + ":" + std::to_string(st.st_gid));
    }
    struct timespec want = TimespecFromNanos(r.mtime_ns);
    // Beyond a file system's granularity (at most 2 s, FAT's): the time was clamped.
    if (SecondsApart(st.st_mtim, want) > 2) {
      problems.push_back("mtime " + std::to_string(r.mtime_ns) +
                         " ns is outside what the file system stores: it reads back as " +
                         std::to_string(st.st_mtim.tv_sec) + " s");
    }
    if (problems.empty()) return;
    std::lock_guard lock(metadata_mu_);
    for (std::string& p : problems) {
      metadata_problems_.push_back({i, img_.segments[i].path, std::move(p)});
    }
  }

  Status WriteQuarantineReport() {
    WB_ASSIGN_OR_RETURN(UniqueFd qdir, OpenDirBeneath(root_.get(), kQuarantine, true));
    std::string text = DumpJson(DamageReportJson(report_), 2) + "\n";
    // Whole or not at all: written under a temporary name, then renamed over any earlier one
    // (a reader never sees it half-written, a crash never leaves it torn).
    const std::string tmp = tmp_prefix_ + "report";
    UniqueFd fd(::openat(qdir.get(), tmp.c_str(),
                         O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (!fd.valid()) return ErrnoError("cannot write the quarantine report", errno);
    if (int err = WriteAll(fd.get(), text.data(), text.size()); err != 0) {
      ::unlinkat(qdir.get(), tmp.c_str(), 0);
      return ErrnoError("cannot write the quarantine report", err);
    }
    if (::renameat(qdir.get(), tmp.c_str(), qdir.get(), kQuarantineReport) != 0) {
      int err = errno;
      ::unlinkat(qdir.get(), tmp.c_str(), 0);
      return ErrnoError("cannot write the quarantine report", err);
    }
    report_.quarantine_report = dest_ + "/" + kQuarantine + "/" + kQuarantineReport;
    return Status::Ok();
  }

  Media& media_;
  std::string dest_;
  UnpackOptions options_;
  LoadedImage img_;
  UniqueFd root_;
  std::unique_ptr<DamageLog> damage_;
  std::mutex unwritten_mu_;
  std::set<uint64_t> unwritten_;
  std::string first_unwritten_;
  std::unique_ptr<std::atomic<uint32_t>[]> remaining_;
  std::string tmp_prefix_;
  std::atomic<uint64_t> chunks_{0}, bytes_{0}, files_{0};
  std::mutex metadata_mu_;
  std::vector<MetadataProblem> metadata_problems_;
  UnpackReport report_;
};

}  // namespace

Result<UnpackReport> UnpackImage(Media& media, const std::string& dest,
                                 const UnpackOptions& options) {
  return Unpacker(media, dest, options).Run();
}

}  // namespace warmboot
