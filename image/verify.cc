// verify: check every chunk of a sealed image against its hash without writing anything.
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>

#include "image/chunk_loader.h"
#include "image/damage.h"
#include "image/image.h"
#include "image/image_reader.h"
#include "util/parallel_for.h"

namespace warmboot {

Result<VerifyReport> VerifyImage(Media& media, const VerifyOptions& options) {
  auto start = std::chrono::steady_clock::now();
  WB_ASSIGN_OR_RETURN(LoadedImage img, LoadImage(media, SealRequirement::kSealed));
  VerifyReport report;
  report.header = img.header;
  report.seal = img.seal;
  report.segments = img.segments.size();
  DamageLog damage(img);

  // Work items: every chunk of every sound file segment.
  struct Item {
    uint64_t segment, k;
  };
  std::vector<Item> items;
  for (uint64_t i = 0; i < img.segments.size(); ++i) {
    const LoadedSegment& s = img.segments[i];
    if (!s.ok) continue;
    for (uint64_t k = 0; k < s.record.chunk_count; ++k) items.push_back({i, k});
  }
  const unsigned threads = EffectiveThreads(options.threads);
  std::vector<std::unique_ptr<ChunkLoader>> loaders;
  for (unsigned w = 0; w < threads; ++w) {
    loaders.push_back(
        std::make_unique<ChunkLoader>(media, img.header.chunk_size, media.KnownBadRanges()));
  }
  std::atomic<uint64_t> chunks{0}, bytes{0};
  Status s = ParallelFor(items.size(), threads, [&](size_t n, unsigned w) {
    const Item& it = items[n];
    const LoadedSegment& seg = img.segments[it.segment];
    uint64_t c = seg.record.first_chunk + it.k;
    ByteRange range = ChunkFileRange(img.header, seg.record, it.k);
    if (!img.chunk_problems[c].empty()) {
      damage.Add(it.segment, range, "chunk " + std::to_string(c) + ": " + img.chunk_problems[c]);
      return Status::Ok();
    }
    std::span<const uint8_t> data;
    Status ls = loaders[w]->Load(img.chunks[c], &data);
    if (!ls.ok()) {
      damage.Add(it.segment, range, "chunk " + std::to_string(c) + ": " + ls.message());
    } else {
      chunks.fetch_add(1, std::memory_order_relaxed);
      bytes.fetch_add(range.length, std::memory_order_relaxed);
    }
    return Status::Ok();
  });
  WB_RETURN_IF_ERROR(s);
  report.chunks_verified = chunks.load();
  report.bytes_verified = bytes.load();
  report.damaged = damage.Take();
  report.image_problems = img.image_problems;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace warmboot
