#include "image/codec.h"

#include <zstd.h>

#include <algorithm>
#include <charconv>
#include <new>
#include <thread>

namespace warmboot {
namespace {

// The probe compresses this much of a chunk at level 1; zstd's own fast path makes it cost
// little on random data, and most incompressible data (media, ciphertext) is uniformly so.
constexpr size_t kProbeBytes = 32 * 1024;
// A chunk is stored raw unless compression saves at least 1/32 of it.
bool Pays(size_t raw, size_t compressed) {
  return compressed + raw / 32 < raw;
}

}  // namespace

Result<CompressionPolicy> ParseCompression(std::string_view text) {
  CompressionPolicy p;
  if (text == "none") return p;
  if (text == "auto") {
    p.mode = CompressionPolicy::Mode::kAuto;
    return p;
  }
  if (text == "zstd") {
    p.mode = CompressionPolicy::Mode::kZstd;
    return p;
  }
  if (text.starts_with("zstd:")) {
    std::string_view lv = text.substr(5);
    int level = 0;
    auto [ptr, ec] = std::from_chars(lv.data(), lv.data() + lv.size(), level);
    if (ec != std::errc() || ptr != lv.data() + lv.size() || level < 1 || level > 19) {
      return UsageError("--compress zstd:LEVEL takes a level from 1 to 19, not '" +
                        std::string(lv) + "'");
    }
    p.mode = CompressionPolicy::Mode::kZstd;
    p.level = level;
    return p;
  }
  return UsageError("--compress takes none, zstd, zstd:LEVEL or auto, not '" + std::string(text) +
                    "'");
}

std::string CompressionName(const CompressionPolicy& p) {
  switch (p.mode) {
    case CompressionPolicy::Mode::kNone:
      return "none";
    case CompressionPolicy::Mode::kAuto:
      return "auto";
    case CompressionPolicy::Mode::kZstd:
      return "zstd:" + std::to_string(p.level ? p.level : 3);
  }
  return "none";
}

unsigned EffectiveThreads(unsigned requested) {
  return EffectiveThreads(requested, std::thread::hardware_concurrency());
}

unsigned EffectiveThreads(unsigned requested, unsigned online_cpus) {
  if (requested != 0) return requested;
  return std::clamp(online_cpus, 1u, kMaxAutoThreads);
}

size_t CompressBound(size_t raw_length) {
  return ZSTD_compressBound(raw_length);
}

ChunkCompressor::ChunkCompressor(const CompressionPolicy& policy)
    : mode_(policy.mode),
      level_(policy.level ? policy.level : (policy.mode == CompressionPolicy::Mode::kAuto ? 1 : 3)),
      cctx_(policy.mode == CompressionPolicy::Mode::kNone ? nullptr : ZSTD_createCCtx()) {}

ChunkCompressor::~ChunkCompressor() {
  ZSTD_freeCCtx(static_cast<ZSTD_CCtx*>(cctx_));
}

size_t ChunkCompressor::Compress(std::span<const uint8_t> raw, std::span<uint8_t> out) {
  if (mode_ == CompressionPolicy::Mode::kNone || raw.empty()) return 0;
  auto* cctx = static_cast<ZSTD_CCtx*>(cctx_);
  if (mode_ == CompressionPolicy::Mode::kAuto && raw.size() > 2 * kProbeBytes) {
    size_t n = ZSTD_compressCCtx(cctx, out.data(), out.size(), raw.data(), kProbeBytes, 1);
    if (ZSTD_isError(n) || !Pays(kProbeBytes, n)) return 0;
  }
  size_t n = ZSTD_compressCCtx(cctx, out.data(), out.size(), raw.data(), raw.size(), level_);
  if (ZSTD_isError(n) || !Pays(raw.size(), n)) return 0;
  return n;
}

// The context is made on the first compressed chunk: a loader per worker is built for every
// verify and unpack, and an image of raw chunks (or a small one, or none) never needs one.
ChunkDecompressor::ChunkDecompressor() : dctx_(nullptr) {}
ChunkDecompressor::~ChunkDecompressor() {
  ZSTD_freeDCtx(static_cast<ZSTD_DCtx*>(dctx_));
}

Status ChunkDecompressor::Decompress(std::span<const uint8_t> in, std::span<uint8_t> out) {
  // The frame must declare exactly the expected size; this bounds the work on crafted input.
  unsigned long long declared = ZSTD_getFrameContentSize(in.data(), in.size());
  if (declared != out.size()) return Corruption("compressed chunk declares the wrong size");
  // Exactly one frame: trailing bytes would be unverified data riding along.
  if (ZSTD_findFrameCompressedSize(in.data(), in.size()) != in.size()) {
    return Corruption("compressed chunk has bytes after its frame");
  }
  if (dctx_ == nullptr && (dctx_ = ZSTD_createDCtx()) == nullptr) throw std::bad_alloc();
  size_t n = ZSTD_decompressDCtx(static_cast<ZSTD_DCtx*>(dctx_), out.data(), out.size(), in.data(),
                                 in.size());
  if (ZSTD_isError(n)) return Corruption(std::string("zstd: ") + ZSTD_getErrorName(n));
  if (n != out.size()) return Corruption("compressed chunk decompressed to the wrong size");
  return Status::Ok();
}

}  // namespace warmboot
