// The image library: pack a state directory into an image, verify it, unpack it, inspect it,
// consume its seal. The CLI, the preserve/restore orchestration and the tests all drive these.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "image/format.h"
#include "media/media.h"
#include "util/status.h"

namespace warmboot {

struct CompressionPolicy {
  enum class Mode { kNone, kZstd, kAuto };
  Mode mode = Mode::kNone;
  int level = 0;  // zstd level; 0 picks the mode's default (zstd: 3, auto: 1)
};
// "none", "zstd", "zstd:LEVEL" (1..19), "auto".
Result<CompressionPolicy> ParseCompression(std::string_view text);
std::string CompressionName(const CompressionPolicy& policy);

// 0 threads means one per online CPU, at most kMaxAutoThreads: copying saturates memory
// bandwidth well before that many cores, and every worker holds its own chunk buffers (about
// two chunks' worth), so the resident set stays bounded on a large machine too.
inline constexpr unsigned kMaxAutoThreads = 8;
unsigned EffectiveThreads(unsigned requested);
unsigned EffectiveThreads(unsigned requested, unsigned online_cpus);

struct PackOptions {
  uint32_t chunk_size = format::kDefaultChunkSize;
  CompressionPolicy compression;
  unsigned threads = 0;
  // The new image's generation is above both this and the previous image's on the medium
  // (preserve passes the last one it knows of: the medium's header does not survive the
  // namespace going back to devdax).
  uint64_t generation_floor = 0;
  // The new image's uuid, chosen by the caller ahead of the write (preserve puts it on the next
  // kernel's command line); none: a random one.
  std::optional<format::Uuid> image_uuid;
};

struct PackReport {
  format::Uuid image_uuid{};
  uint64_t generation = 0;
  uint64_t files = 0, directories = 0, symlinks = 0;
  uint64_t chunks = 0, zero_chunks = 0, zstd_chunks = 0, raw_chunks = 0;
  uint64_t raw_bytes = 0;     // file contents
  uint64_t stored_bytes = 0;  // chunk bytes on media
  uint64_t image_bytes = 0;   // whole image, metadata included
  uint64_t capacity = 0;
  uint32_t data_alignment = 1;  // stored chunks start on multiples of it (direct I/O block)
  double seconds = 0;
};

// What packing a state directory would take, computed without writing: the worst-case image
// size assumes every non-hole chunk is stored raw (and padded to the largest direct I/O block).
struct PackPlanSummary {
  uint64_t entries = 0;
  uint64_t raw_bytes = 0;
  uint64_t worst_case_image_bytes = 0;
};

// The state tree walked and every chunk planned. Preserve plans before its point of no return
// and packs from the same plan after it: the tree is walked once, and the capacity it checked
// is the capacity the pack needs. A file whose size changes in between fails the pack.
class PackPlan {
 public:
  struct Impl;
  explicit PackPlan(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  const PackPlanSummary& summary() const;
  const Impl& impl() const { return *impl_; }

 private:
  std::shared_ptr<const Impl> impl_;
};
// An entry packed from outside the state directory: the checkpoint API's segments, which
// warmbootd hands over as descriptors (sealed memfds, tmpfs files), are recorded under
// .warmboot-api/UID/APP/SEGMENT and read straight from the descriptor, with no copy into the
// state directory. Their directories are given as entries too. The plan takes each file's size
// and times from fstat and, like any file, a file that changes before its chunks are read fails
// the pack.
struct ExtraEntry {
  std::string path;  // relative, '/'-separated; its top-level name must not be in the state dir
  bool directory = false;
  int fd = -1;  // files: borrowed, open until the pack ends
  uint32_t mode = 0600;
  uint32_t uid = 0, gid = 0;
};

Result<PackPlan> PlanPack(const std::string& state_dir, const PackOptions& options,
                          const std::vector<ExtraEntry>& extra = {});

// Plans the whole image first: fails with kNoSpace before writing a byte when the worst case
// (every chunk stored raw) does not fit. Then invalidates any old seal, writes data, tables and
// header, flushes, and writes the seal last.
Result<PackReport> PackImage(const std::string& state_dir, Media& media,
                             const PackOptions& options);
// The same from a plan (its chunk size must be options.chunk_size).
Result<PackReport> PackImage(const PackPlan& plan, Media& media, const PackOptions& options);

// What is wrong with one segment, in file byte ranges where known.
struct DamagedSegment {
  uint64_t index = 0;
  std::string path;  // empty when the segment record itself is unreadable
  std::string reason;
  std::vector<ByteRange> damaged_ranges;  // within the file
  std::string quarantined_as;             // unpack: where the salvaged bytes went
};

struct VerifyOptions {
  unsigned threads = 0;
};

struct VerifyReport {
  format::Header header;
  format::Seal seal;
  uint64_t segments = 0;
  uint64_t chunks_verified = 0;
  uint64_t bytes_verified = 0;  // raw bytes checked against their hashes
  std::vector<DamagedSegment> damaged;
  // Damage that no segment can be blamed for (a table checksum that fails while every record
  // and chunk checks out): the data verified, but the image is reported partial.
  std::vector<std::string> image_problems;
  double seconds = 0;
  bool partial() const { return !damaged.empty() || !image_problems.empty(); }
};

// kNoImage when there is no sealed image (none, unsealed, consumed, unknown version, damaged
// header). Damaged segments do not fail the call: they are listed in the report.
Result<VerifyReport> VerifyImage(Media& media, const VerifyOptions& options);

struct UnpackOptions {
  unsigned threads = 0;
  bool consume = false;        // mark the seal consumed once everything is on disk
  bool merge = false;          // allow a non-empty destination (files are replaced atomically)
  bool restore_owner = false;  // chown to the recorded uid/gid (needs root)
};

// A restored segment whose recorded metadata the destination did not take as recorded
// (format.md 12.4): an owner of 4294967295, which chown reads as "leave unchanged", or an mtime
// outside what the file system stores, which the kernel clamps. Not damage: the segment is in
// place, verified, and the restore is not partial for it.
struct MetadataProblem {
  uint64_t index = 0;
  std::string path;
  std::string problem;
};

struct UnpackReport : VerifyReport {
  uint64_t files = 0, directories = 0, symlinks = 0;
  uint64_t bytes_written = 0;
  std::vector<MetadataProblem> metadata_problems;  // sorted by segment
  std::string quarantine_report;  // path of .quarantine/report.json, if anything was damaged
  bool consumed = false;
};

// Restores into dest (created if missing). Never writes outside dest, whatever the image says.
Result<UnpackReport> UnpackImage(Media& media, const std::string& dest,
                                 const UnpackOptions& options);

struct SegmentInfo {
  uint64_t index = 0;
  bool record_ok = true;
  std::string problem;
  std::string path;
  format::EntryType type = format::EntryType::kFile;
  std::string target;
  uint32_t mode = 0, uid = 0, gid = 0;
  int64_t mtime_ns = 0;
  uint64_t size = 0;
  uint64_t chunks = 0, zero_chunks = 0, zstd_chunks = 0;
  uint64_t stored_bytes = 0;
};

enum class ImageState { kSealed, kConsumed, kUnsealed };
const char* ImageStateName(ImageState state);

struct InspectReport {
  format::Header header;
  ImageState state = ImageState::kUnsealed;
  std::optional<format::Seal> seal;
  std::string seal_problem;  // why the image is not sealed, when it is not
  bool tables_ok = true;
  std::vector<SegmentInfo> segments;
};

// kHeaderAndSeal: the state and the header (whose geometry is checked) only; no tables are
// read, so segments is empty and tables_ok says nothing. For a caller that decides from the
// state and then unpacks, which loads and checks the tables itself.
enum class InspectDepth { kHeaderAndSeal, kAll };

// Reads header, seal and tables without checking data. kNoImage only when there is no valid
// header; an unsealed or consumed image is described, with its state.
Result<InspectReport> InspectImage(Media& media, InspectDepth depth = InspectDepth::kAll);

// True when block 0 carries the image magic, damaged or not: tells "never written" (a cold
// boot) from "written but not valid" (the writer died, or damage). An error when the magic
// cannot be read (an I/O error, or a known media error over it, which is not read): then
// whether an image is there is unknown, and nothing may treat the device as empty.
Result<bool> FindImageMagic(Media& media);

// What a raw device holds, read the one way everything that would act on it reads it (restore,
// give-back, discard's callers, preserve, status). Unknown is not none: an error when that
// cannot be told, as when the header or seal cannot be read (an I/O error, or a known media
// error over them, which is never read); acting as if nothing were there would overwrite what
// may be the only copy of a state.
struct ImageOnDevice {
  bool written = false;                // the image magic is there (false: never written)
  std::optional<InspectReport> image;  // header and seal (no tables), when the header is valid
  std::string why_none;                // written, but no valid header: why
  bool sealed() const { return image && image->state == ImageState::kSealed; }
};
Result<ImageOnDevice> ReadImageOnDevice(Media& media);

// The bytes unpacking the image writes: its chunks that are neither holes nor zeros (a sparse
// file's holes take no room where it is restored). Reads the tables, no chunk data.
Result<uint64_t> BytesToRestore(Media& media);

// Marks a sealed image consumed so it is never restored twice.
Status ConsumeImage(Media& media);

}  // namespace warmboot
