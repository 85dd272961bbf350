#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <iostream>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "image/image.h"
#include "image/image_json.h"
#include "util/bytes.h"

namespace warmboot::cli {

static constexpr const char* kPackHelp =
    R"(usage: warmboot pack STATE_DIR IMAGE [--compress none|zstd[:LEVEL]|auto]
                     [--chunk-size N] [--threads N] [--capacity BYTES]
                     [--direct-io auto|on|off] [--json]

Writes every file, directory and symlink under STATE_DIR into IMAGE, a block device such as
/dev/pmem0 or a regular file (an existing file is written in place, never truncated). Refuses
before writing anything when the state cannot fit. The seal is written last.

  --compress     none (default), zstd (level 3), zstd:LEVEL (1-19), or auto (zstd level 1,
                 skipping chunks a quick probe finds incompressible)
  --chunk-size   chunk size, a multiple of 4096 (default 1M)
  --threads      worker threads (default: one per CPU, at most 8)
  --capacity     use at most this many bytes of IMAGE (for tests)
  --direct-io    auto (default: on for block devices), on, or off: O_DIRECT bypasses the
                 page cache
)";

int CmdPack(const Argv& argv) {
  const bool json = WantsJson(argv);
  auto args = ParseArgs(argv, {{"compress", true},
                               {"chunk-size", true},
                               {"threads", true},
                               {"capacity", true},
                               {"direct-io", true}});
  if (!args.ok()) return ReportError(args.status(), json, "pack");
  if (args->Has("help")) {
    std::cout << kPackHelp;
    return kExitOk;
  }
  if (args->positional.size() != 2) {
    return ReportError(UsageError("pack takes STATE_DIR and IMAGE"), json, "pack");
  }
  PackOptions options;
  FileMediaOptions media_options;
  media_options.mode = OpenMode::kCreate;
  if (auto v = args->Get("compress")) {
    auto c = ParseCompression(*v);
    if (!c.ok()) return ReportError(c.status(), json, "pack");
    options.compression = *c;
  }
  if (auto v = args->Get("chunk-size")) {
    auto n = ParseSize(*v, "--chunk-size");
    if (!n.ok()) return ReportError(n.status(), json, "pack");
    // Checked here, before IMAGE is opened: a bad value is a usage error (exit 2) whatever the
    // image path, as cli.md says.
    if (!format::ValidChunkSize(*n)) {
      return ReportError(UsageError("--chunk-size must be a multiple of 4096 from 4 KiB to 64 MiB, "
                                    "not " +
                                    *v),
                         json, "pack");
    }
    options.chunk_size = static_cast<uint32_t>(*n);
  }
  if (auto v = args->Get("threads")) {
    auto n = ParseCount(*v, "--threads");
    if (!n.ok()) return ReportError(n.status(), json, "pack");
    options.threads = *n;
  }
  if (auto v = args->Get("capacity")) {
    auto n = ParseSize(*v, "--capacity");
    if (!n.ok()) return ReportError(n.status(), json, "pack");
    media_options.capacity_limit = *n;
  }
  if (auto v = args->Get("direct-io")) {
    auto d = ParseDirectIo(*v);
    if (!d.ok()) return ReportError(d.status(), json, "pack");
    media_options.direct_io = *d;
  }
  const std::string& state = args->positional[0];
  const std::string& image = args->positional[1];
  struct stat st;
  const bool created = ::stat(image.c_str(), &st) != 0 && errno == ENOENT;
  // Leave no empty file behind a refused pack (or a refused open: --direct-io on where the
  // file system has no O_DIRECT).
  auto forget_created = [&] {
    if (created) ::unlink(image.c_str());
  };
  auto media = OpenFileMedia(image, media_options);
  if (!media.ok()) {
    forget_created();
    return ReportError(media.status(), json, "pack");
  }
  auto report = PackImage(state, **media, options);
  if (!report.ok()) {
    media->reset();
    forget_created();
    return ReportError(report.status(), json, "pack");
  }
  const PackReport& r = *report;
  if (json) {
    nlohmann::json j = ToJson(r);
    j["image_path"] = image;
    j["compression"] = CompressionName(options.compression);
    PrintJson(j, kExitOk);
    return kExitOk;
  }
  std::cout << "packed " << r.files << " files, " << r.directories << " directories, " << r.symlinks
            << " symlinks (" << HumanBytes(r.raw_bytes) << ") into " << image << "\n  image "
            << HumanBytes(r.image_bytes) << " of " << HumanBytes(r.capacity) << ", generation "
            << r.generation << ", " << r.chunks << " chunks (" << r.zero_chunks << " zero, "
            << r.zstd_chunks << " zstd, " << r.raw_chunks << " raw), " << r.seconds << " s, "
            << Rate(r.raw_bytes, r.seconds) << "\n"
            << "  sealed; next: warmboot verify " << image << "\n";
  return kExitOk;
}

}  // namespace warmboot::cli
