// pack: state directory -> image. See image/image.h for the contract.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <set>
#include <string_view>

#include "image/checksum.h"
#include "image/codec.h"
#include "image/image.h"
#include "image/layout.h"
#include "image/safe_path.h"
#include "image/sequencer.h"
#include "image/state_tree.h"
#include "image/zero.h"
#include "util/align.h"
#include "util/aligned_buffer.h"
#include "util/bytes.h"
#include "util/host_info.h"
#include "util/io.h"
#include "util/parallel_for.h"
#include "util/uuid.h"

namespace warmboot {
namespace {

using format::ChunkRecord;
using format::Codec;

struct PlannedChunk {
  uint32_t entry;
  uint32_t length;
  uint64_t file_offset;
  bool hole;
};

struct Plan {
  std::vector<StateEntry> entries;
  std::vector<PlannedChunk> chunks;
  std::vector<uint64_t> first_chunk;  // per entry
  uint64_t names_length = 0;
  uint64_t raw_bytes = 0;

  // Every non-hole chunk stored raw, each padded to the alignment.
  Layout WorstCase(uint32_t alignment) const {
    uint64_t data = 0;
    for (const PlannedChunk& c : chunks) {
      if (!c.hole) data += AlignUp(c.length, alignment);
    }
    return ComputeLayout(entries.size(), chunks.size(), names_length, data);
  }
};

}  // namespace

struct PackPlan::Impl {
  std::string state_dir;
  uint32_t chunk_size = 0;
  Plan plan;
  PackPlanSummary summary;
};

const PackPlanSummary& PackPlan::summary() const {
  return impl_->summary;
}

namespace {

// Pre-order with byte-wise sorted names (format.md 6.5) is the lexicographic order of paths
// compared component by component.
bool PreOrderLess(std::string_view a, std::string_view b) {
  for (;;) {
    const size_t ia = a.find('/'), ib = b.find('/');
    const std::string_view ca = a.substr(0, ia), cb = b.substr(0, ib);
    if (ca != cb) return ca < cb;
    // Same name so far: a parent (no further component) comes before what is inside it.
    if (ia == std::string_view::npos || ib == std::string_view::npos) {
      return ia == std::string_view::npos && ib != std::string_view::npos;
    }
    a.remove_prefix(ia + 1);
    b.remove_prefix(ib + 1);
  }
}

// The extra entries as state entries, checked: relative paths of sound components, not
// colliding with the state directory's top-level names, files regular with their fstat.
Result<std::vector<StateEntry>> ExtraStateEntries(const std::vector<ExtraEntry>& extra,
                                                  const std::vector<StateEntry>& scanned) {
  std::set<std::string> top;
  for (const StateEntry& e : scanned) top.insert(e.path.substr(0, e.path.find('/')));
  std::set<std::string> seen;
  std::vector<StateEntry> out;
  const int64_t now = NowUnixNanos();
  for (const ExtraEntry& x : extra) {
    for (size_t i = 0;;) {
      size_t e = x.path.find('/', i);
      std::string comp = x.path.substr(i, e == std::string::npos ? std::string::npos : e - i);
      if (comp.empty() || comp == "." || comp == ".." || comp.size() > 255) {
        return InvalidArgument("an extra entry's path is not a relative path of names: '" + x.path +
                               "'");
      }
      if (e == std::string::npos) break;
      i = e + 1;
    }
    if (top.count(x.path.substr(0, x.path.find('/')))) {
      return InvalidArgument(x.path.substr(0, x.path.find('/')) +
                             " is in the state directory and also given as an extra entry");
    }
    if (!seen.insert(x.path).second) return InvalidArgument("extra entry given twice: " + x.path);
    StateEntry s;
    s.path = x.path;
    s.mode = x.mode & 07777;
    s.uid = x.uid;
    s.gid = x.gid;
    s.mtime_ns = now;
    if (x.directory) {
      s.type = format::EntryType::kDirectory;
    } else {
      struct stat st;
      if (x.fd < 0 || ::fstat(x.fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        return InvalidArgument(x.path + ": its descriptor is not an open regular file");
      }
      s.type = format::EntryType::kFile;
      s.fd = x.fd;
      s.size = static_cast<uint64_t>(st.st_size);
      s.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
      s.ctime_ns = static_cast<int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
    }
    out.push_back(std::move(s));
  }
  for (const StateEntry& s : out) {
    const size_t slash = s.path.rfind('/');
    if (slash != std::string::npos && !seen.count(s.path.substr(0, slash))) {
      return InvalidArgument(s.path + ": its directory is not among the extra entries");
    }
  }
  return out;
}

Result<Plan> MakePlan(const std::string& state_dir, uint32_t chunk_size,
                      const std::vector<ExtraEntry>& extra) {
  if (!format::ValidChunkSize(chunk_size)) {
    return UsageError("--chunk-size must be a multiple of 4096 from 4 KiB to 64 MiB, not " +
                      std::to_string(chunk_size));
  }
  Plan plan;
  WB_ASSIGN_OR_RETURN(plan.entries, ScanStateTree(state_dir, chunk_size));
  if (!extra.empty()) {
    WB_ASSIGN_OR_RETURN(std::vector<StateEntry> more, ExtraStateEntries(extra, plan.entries));
    for (StateEntry& e : more) plan.entries.push_back(std::move(e));
    std::stable_sort(
        plan.entries.begin(), plan.entries.end(),
        [](const StateEntry& a, const StateEntry& b) { return PreOrderLess(a.path, b.path); });
  }
  plan.first_chunk.resize(plan.entries.size());
  for (size_t i = 0; i < plan.entries.size(); ++i) {
    const StateEntry& e = plan.entries[i];
    if (e.path == ".quarantine" || e.path.starts_with(".quarantine/")) {
      return InvalidArgument(state_dir + "/" + e.path +
                             ": the name .quarantine is reserved for damaged segments at restore; "
                             "rename it");
    }
    if (plan.entries.size() > UINT32_MAX) return InvalidArgument("too many entries");
    plan.names_length += e.path.size() + e.target.size();
    plan.first_chunk[i] = plan.chunks.size();
    if (e.type != format::EntryType::kFile) continue;
    plan.raw_bytes += e.size;
    for (uint64_t off = 0, c = 0; off < e.size; off += chunk_size, ++c) {
      uint32_t len = static_cast<uint32_t>(std::min<uint64_t>(chunk_size, e.size - off));
      bool hole = !e.hole_chunks.empty() && e.hole_chunks[c];
      plan.chunks.push_back({static_cast<uint32_t>(i), len, off, hole});
    }
  }
  return plan;
}

// One per worker: its buffers, compressor and the state file it last read from (a large file is
// read chunk after chunk by the same worker, so it is opened once, not once per chunk).
struct Worker {
  AlignedBuffer raw;
  AlignedBuffer packed;
  ChunkRecord record;
  const uint8_t* stored = nullptr;  // raw or packed, record.stored_length bytes
  std::unique_ptr<ChunkCompressor> compressor;
  UniqueFd file;
  uint32_t file_entry = UINT32_MAX;
};

class Packer {
 public:
  Packer(const PackPlan::Impl& planned, Media& media, const PackOptions& options)
      : state_dir_(planned.state_dir), plan_(planned.plan), media_(media), options_(options) {}

  Result<PackReport> Run() {
    auto start = std::chrono::steady_clock::now();
    const uint32_t cs = options_.chunk_size;
    align_ = media_.write_alignment();
    if (!IsPowerOfTwo(align_) || align_ > kMaxWriteAlignment) {
      return InvalidArgument(media_.name() + " asks for a write alignment of " +
                             std::to_string(align_) + " bytes; a power of two up to " +
                             std::to_string(kMaxWriteAlignment) + " is supported");
    }

    // Everything that can be checked is checked before the first write.
    layout_ = plan_.WorstCase(align_);
    if (layout_.image_end > media_.capacity()) {
      return NoSpace("state needs up to " + ExactBytes(layout_.image_end) +
                     " (every chunk stored raw), " + media_.name() + " holds " +
                     ExactBytes(media_.capacity()) + ": short by " +
                     ExactBytes(layout_.image_end - media_.capacity()) + "; nothing was written");
    }
    root_ = UniqueFd(::open(state_dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!root_.valid()) return ErrnoError("cannot open state directory " + state_dir_, errno);

    format::Header h;
    h.generation = std::max(PreviousGeneration(), options_.generation_floor) + 1;
    h.image_uuid = options_.image_uuid.value_or(RandomUuid());
    h.writer_boot_id = CurrentBootId();
    h.kernel_release = KernelRelease();
    h.created_ns = NowUnixNanos();
    h.chunk_size = cs;
    h.capacity = media_.capacity();

    // Invalidate any earlier image first, so a crash from here on leaves no valid seal; and put
    // a provisional header (no regions) in its place, so a reader can tell "the writer was
    // interrupted" from "nothing was ever written".
    {
      format::Header provisional = h;
      provisional.data_offset = provisional.segment_table_offset = provisional.chunk_table_offset =
          provisional.names_offset = provisional.image_end = format::kDataOffset;
      std::vector<uint8_t> blocks(2 * format::kBlockSize, 0);
      format::EncodeHeader(
          provisional, std::span<uint8_t, format::kBlockSize>(blocks.data(), format::kBlockSize));
      WB_RETURN_IF_ERROR(media_.WriteAt(format::kHeaderOffset, blocks));
      WB_RETURN_IF_ERROR(media_.Flush());
    }

    // From here on a failure leaves no valid image on the medium; say so.
    auto invalidated = [&](const Status& s) {
      return Status(s.code(), s.message() + "; no valid image is left on " + media_.name() +
                                  " (the earlier one was invalidated first)");
    };
    if (Status s = WriteData(); !s.ok()) return invalidated(s);
    if (Status s = WriteTablesAndHeader(h); !s.ok()) return invalidated(s);
    if (Status s = media_.Flush(); !s.ok()) return invalidated(s);

    format::Seal seal;
    seal.image_uuid = h.image_uuid;
    seal.generation = h.generation;
    seal.header_checksum = header_checksum_;
    seal.image_end = h.image_end;
    seal.sealed_ns = NowUnixNanos();
    std::vector<uint8_t> block(format::kBlockSize);
    format::EncodeSeal(seal, std::span<uint8_t, format::kBlockSize>(block.data(), block.size()));
    if (Status s = media_.WriteAt(format::kSealOffset, block); !s.ok()) return invalidated(s);
    if (Status s = media_.Flush(); !s.ok()) return invalidated(s);

    report_.image_uuid = h.image_uuid;
    report_.generation = h.generation;
    report_.raw_bytes = plan_.raw_bytes;
    report_.image_bytes = h.image_end;
    report_.capacity = media_.capacity();
    report_.data_alignment = align_;
    report_.chunks = plan_.chunks.size();
    for (const StateEntry& e : plan_.entries) {
      if (e.type == format::EntryType::kFile) ++report_.files;
      if (e.type == format::EntryType::kDirectory) ++report_.directories;
      if (e.type == format::EntryType::kSymlink) ++report_.symlinks;
    }
    report_.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return report_;
  }

 private:
  // The generation counts images written to this medium; 0 when there was no readable header.
  uint64_t PreviousGeneration() {
    if (media_.size() < format::kBlockSize) return 0;
    std::vector<uint8_t> block(format::kBlockSize);
    if (!media_.ReadAt(format::kHeaderOffset, block).ok()) return 0;
    auto h = format::DecodeHeader(
        std::span<const uint8_t, format::kBlockSize>(block.data(), block.size()));
    return h.ok() ? h->generation : 0;
  }

  // The file as planned: same size, and neither written (mtime) nor changed (ctime) since. Run
  // after every chunk's read, so a rewrite in place is caught unless it comes after the last
  // chunk was read, when every chunk read is older than it: the image is then a consistent
  // snapshot. (Filesystems with coarse timestamps can hide a write within the same tick as the
  // plan's stat.)
  static Status CheckUnchanged(int fd, const StateEntry& e) {
    struct stat st;
    if (::fstat(fd, &st) != 0) return ErrnoError("cannot stat " + e.path, errno);
    if (static_cast<uint64_t>(st.st_size) != e.size) {
      return InvalidArgument(e.path + " changed size while being packed (planned " +
                             std::to_string(e.size) + " bytes, now " + std::to_string(st.st_size) +
                             "); quiesce the application that owns it and pack again");
    }
    auto ns = [](const struct timespec& t) {
      return static_cast<int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec;
    };
    if (ns(st.st_mtim) != e.mtime_ns || ns(st.st_ctim) != e.ctime_ns) {
      return InvalidArgument(e.path +
                             " was written while being packed (its modification time changed); "
                             "the image would hold a torn copy: quiesce the application that owns "
                             "it and pack again");
    }
    return Status::Ok();
  }

  Status ProduceChunk(size_t index, Worker& w) {
    const PlannedChunk& pc = plan_.chunks[index];
    const StateEntry& e = plan_.entries[pc.entry];
    ChunkRecord& r = w.record;
    r = ChunkRecord{};
    r.raw_length = pc.length;
    if (pc.hole) {
      r.codec = Codec::kZero;
      r.hash = ZeroHash(pc.length);
      return Status::Ok();
    }
    if (w.raw.size() < pc.length) w.raw.Reset(AlignUp(options_.chunk_size, align_));
    if (e.fd >= 0) {
      w.file = UniqueFd();
      w.file_entry = UINT32_MAX;
    } else if (w.file_entry != pc.entry) {
      w.file = UniqueFd();
      w.file_entry = UINT32_MAX;
      auto [parent, name] = SplitParent(e.path);
      WB_ASSIGN_OR_RETURN(UniqueFd dir, OpenDirBeneath(root_.get(), parent, false));
      // O_NONBLOCK: what was a file when planned may since be a FIFO, whose open would wait
      // for a writer forever (after preserve's point of no return).
      w.file = UniqueFd(::openat(dir.get(), std::string(name).c_str(),
                                 O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
      if (!w.file.valid()) return ErrnoError("cannot open " + e.path, errno);
      struct stat st;
      if (::fstat(w.file.get(), &st) != 0) return ErrnoError("cannot stat " + e.path, errno);
      if (!S_ISREG(st.st_mode)) {
        return InvalidArgument(e.path +
                               " is no longer a regular file (replaced since it was planned); "
                               "quiesce the application that owns it and pack again");
      }
      w.file_entry = pc.entry;
    }
    const int fd = e.fd >= 0 ? e.fd : w.file.get();
    size_t got = 0;
    if (int err = PreadFull(fd, w.raw.data(), pc.length, pc.file_offset, &got)) {
      return ErrnoError("cannot read " + e.path, err);
    }
    if (got < pc.length) {
      return InvalidArgument(e.path +
                             " shrank while being packed; quiesce the application "
                             "that owns it and pack again");
    }
    // The plan may be older than this read (preserve plans before the point of no return): a
    // file that grew, shrank or was rewritten would otherwise be packed torn without a word.
    WB_RETURN_IF_ERROR(CheckUnchanged(fd, e));
    const uint8_t* raw = w.raw.data();
    if (IsAllZero(raw, pc.length)) {
      r.codec = Codec::kZero;
      r.hash = ZeroHash(pc.length);
      return Status::Ok();
    }
    r.hash = Hash64(raw, pc.length);
    r.codec = Codec::kRaw;
    r.stored_length = pc.length;
    w.stored = raw;
    if (options_.compression.mode != CompressionPolicy::Mode::kNone) {
      size_t bound = CompressBound(options_.chunk_size);
      if (w.packed.size() < bound) w.packed.Reset(AlignUp(bound, align_));
      size_t n = w.compressor->Compress({raw, pc.length}, {w.packed.data(), w.packed.size()});
      if (n != 0) {
        r.codec = Codec::kZstd;
        r.stored_length = static_cast<uint32_t>(n);
        w.stored = w.packed.data();
      }
    }
    return Status::Ok();
  }

  // Every worker reads, hashes, compresses and writes its own chunks. Only the hand-out of
  // offsets is serialized, in chunk order, so the data region stays back to back (format.md 7)
  // while the copies into the medium run on all cores: one writer thread was the bottleneck.
  // Memory is bounded by one chunk (plus its compressed form) per worker.
  Status WriteData() {
    const unsigned threads = EffectiveThreads(options_.threads);
    std::vector<Worker> workers(threads);
    for (Worker& w : workers) {
      w.compressor = std::make_unique<ChunkCompressor>(options_.compression);
    }
    chunks_.resize(plan_.chunks.size());
    uint64_t cursor = format::kDataOffset;  // advanced by the worker holding the turn
    Sequencer turns;
    auto step = [&](size_t i, Worker& w) -> Status {
      Status produced = ProduceChunk(i, w);
      if (!turns.Wait(i)) return turns.error();
      WB_RETURN_IF_ERROR(produced);
      ChunkRecord& r = chunks_[i];
      r = w.record;
      const uint64_t padded = AlignUp(r.stored_length, align_);
      if (r.codec != Codec::kZero) {
        r.offset = cursor;
        cursor += padded;
      }
      turns.Pass(i);
      if (r.codec == Codec::kZero) return Status::Ok();
      // Whole blocks from an aligned buffer go straight to the medium; the gap is zeros, so
      // the image's bytes stay fully determined.
      uint8_t* data = const_cast<uint8_t*>(w.stored);
      std::memset(data + r.stored_length, 0, padded - r.stored_length);
      return media_.WriteAt(r.offset, {data, padded});
    };
    Status s = ParallelFor(plan_.chunks.size(), threads, [&](size_t i, unsigned w) {
      Status st = step(i, workers[w]);
      if (!st.ok()) turns.Abort(st);
      return st;
    });
    // Report the failure that stopped the sequence, not a waiter that was turned away by it.
    if (Status first = turns.error(); !first.ok()) return first;
    WB_RETURN_IF_ERROR(s);
    for (const ChunkRecord& r : chunks_) {
      report_.stored_bytes += r.stored_length;
      ++(r.codec == Codec::kZero   ? report_.zero_chunks
         : r.codec == Codec::kZstd ? report_.zstd_chunks
                                   : report_.raw_chunks);
    }
    data_length_ = cursor - format::kDataOffset;
    return Status::Ok();
  }

  Status WriteTablesAndHeader(format::Header& h) {
    Layout final_layout =
        ComputeLayout(plan_.entries.size(), plan_.chunks.size(), plan_.names_length, data_length_);
    std::vector<uint8_t> names;
    names.reserve(plan_.names_length);
    std::vector<uint8_t> segs(plan_.entries.size() * format::kSegmentRecordSize);
    for (size_t i = 0; i < plan_.entries.size(); ++i) {
      const StateEntry& e = plan_.entries[i];
      format::SegmentRecord r;
      r.type = e.type;
      r.path_length = static_cast<uint16_t>(e.path.size());
      r.target_length = static_cast<uint32_t>(e.target.size());
      r.mode = e.mode;
      r.uid = e.uid;
      r.gid = e.gid;
      r.mtime_ns = e.mtime_ns;
      r.size = e.size;
      r.first_chunk = plan_.first_chunk[i];
      r.chunk_count = (e.type == format::EntryType::kFile)
                          ? (e.size + options_.chunk_size - 1) / options_.chunk_size
                          : 0;
      r.name_offset = names.size();
      names.insert(names.end(), e.path.begin(), e.path.end());
      names.insert(names.end(), e.target.begin(), e.target.end());
      std::span<uint8_t, format::kSegmentRecordSize> rec(
          segs.data() + i * format::kSegmentRecordSize, format::kSegmentRecordSize);
      format::EncodeSegment(r, rec);
      r.checksum = format::SegmentChecksum(
          rec,
          std::span<const uint8_t>(names.data() + r.name_offset, names.size() - r.name_offset));
      format::EncodeSegment(r, rec);
    }
    std::vector<uint8_t> chunk_table(chunks_.size() * format::kChunkRecordSize);
    for (size_t i = 0; i < chunks_.size(); ++i) {
      format::EncodeChunk(chunks_[i], std::span<uint8_t, format::kChunkRecordSize>(
                                          chunk_table.data() + i * format::kChunkRecordSize,
                                          format::kChunkRecordSize));
    }
    h.data_offset = format::kDataOffset;
    h.data_length = data_length_;
    h.segment_count = plan_.entries.size();
    h.segment_table_offset = final_layout.segment_table_offset;
    h.chunk_count = chunks_.size();
    h.chunk_table_offset = final_layout.chunk_table_offset;
    h.names_offset = final_layout.names_offset;
    h.names_length = names.size();
    h.segment_table_checksum = Hash64(segs.data(), segs.size());
    h.chunk_table_checksum = Hash64(chunk_table.data(), chunk_table.size());
    h.names_checksum = Hash64(names.data(), names.size());
    h.total_raw_bytes = plan_.raw_bytes;
    h.total_stored_bytes = report_.stored_bytes;
    h.image_end = final_layout.image_end;

    // The gap between data and tables is zeroed so an image's bytes are fully determined.
    uint64_t data_end = format::kDataOffset + data_length_;
    std::vector<uint8_t> pad(final_layout.segment_table_offset - data_end, 0);
    struct iovec v[4] = {{pad.data(), pad.size()},
                         {segs.data(), segs.size()},
                         {chunk_table.data(), chunk_table.size()},
                         {names.data(), names.size()}};
    WB_RETURN_IF_ERROR(media_.WriteAt(data_end, v, 4));

    std::vector<uint8_t> block(format::kBlockSize);
    std::span<uint8_t, format::kBlockSize> hb(block.data(), block.size());
    format::EncodeHeader(h, hb);
    header_checksum_ = format::BlockChecksum(hb);
    return media_.WriteAt(format::kHeaderOffset, block);
  }

  const std::string& state_dir_;
  const Plan& plan_;
  Media& media_;
  PackOptions options_;
  Layout layout_;
  UniqueFd root_;
  std::vector<ChunkRecord> chunks_;
  uint64_t header_checksum_ = 0;
  uint32_t align_ = 1;        // each stored chunk starts on a multiple (direct I/O)
  uint64_t data_length_ = 0;  // stored bytes plus alignment padding
  PackReport report_;
};

}  // namespace

Result<PackPlan> PlanPack(const std::string& state_dir, const PackOptions& options,
                          const std::vector<ExtraEntry>& extra) {
  auto impl = std::make_shared<PackPlan::Impl>();
  impl->state_dir = state_dir;
  impl->chunk_size = options.chunk_size;
  WB_ASSIGN_OR_RETURN(impl->plan, MakePlan(state_dir, options.chunk_size, extra));
  impl->summary = {impl->plan.entries.size(), impl->plan.raw_bytes,
                   impl->plan.WorstCase(kMaxWriteAlignment).image_end};
  return PackPlan(std::move(impl));
}

Result<PackReport> PackImage(const PackPlan& plan, Media& media, const PackOptions& options) {
  if (plan.impl().chunk_size != options.chunk_size) {
    return InvalidArgument("the pack plan was made for chunks of " +
                           std::to_string(plan.impl().chunk_size) + " bytes, not " +
                           std::to_string(options.chunk_size));
  }
  return Packer(plan.impl(), media, options).Run();
}

Result<PackReport> PackImage(const std::string& state_dir, Media& media,
                             const PackOptions& options) {
  WB_ASSIGN_OR_RETURN(PackPlan plan, PlanPack(state_dir, options));
  return PackImage(plan, media, options);
}

}  // namespace warmboot
