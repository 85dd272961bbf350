#include <iostream>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "image/image.h"
#include "image/image_json.h"
#include "util/bytes.h"
#include "util/printable.h"

namespace warmboot::cli {

static constexpr const char* kInspectHelp =
    R"(usage: warmboot inspect IMAGE [--segments N] [--json]

Shows the header, seal state, segments, sizes and compression ratio of IMAGE without reading
its data (use verify for that). Exit 0 for a sealed image, 4 when it is unsealed, consumed or
absent (what could be read is still shown).

  --segments N   list at most N segments in the human output (default 20; --json lists all)
)";

int CmdInspect(const Argv& argv) {
  const bool json = WantsJson(argv);
  auto args = ParseArgs(argv, {{"segments", true}});
  if (!args.ok()) return ReportError(args.status(), json, "inspect");
  if (args->Has("help")) {
    std::cout << kInspectHelp;
    return kExitOk;
  }
  if (args->positional.size() != 1) {
    return ReportError(UsageError("inspect takes IMAGE"), json, "inspect");
  }
  uint64_t limit = 20;
  if (auto v = args->Get("segments")) {
    auto n = ParseUint(*v, "--segments");
    if (!n.ok()) return ReportError(n.status(), json, "inspect");
    limit = *n;
  }
  const std::string& image = args->positional[0];
  auto media = OpenFileMedia(image, {});
  if (!media.ok()) return ReportError(media.status(), json, "inspect");
  auto report = InspectImage(**media);
  if (!report.ok()) return ReportError(report.status(), json, "inspect");
  const InspectReport& r = *report;
  int code = r.state == ImageState::kSealed ? kExitOk : kExitNoImage;
  if (json) {
    PrintJson(ToJson(r), code);
    return code;
  }
  const format::Header& h = r.header;
  std::cout << "image " << format::UuidToString(h.image_uuid) << " on " << image << ": "
            << ImageStateName(r.state);
  if (!r.seal_problem.empty()) std::cout << " (" << Printable(r.seal_problem) << ")";
  std::cout << "\n  format " << h.major << "." << h.minor << ", generation " << h.generation
            << ", written by kernel " << Printable(h.kernel_release) << ", chunk size "
            << HumanBytes(h.chunk_size) << "\n  " << h.segment_count << " segments, "
            << h.chunk_count << " chunks, " << HumanBytes(h.total_raw_bytes)
            << " of files stored in " << HumanBytes(h.total_stored_bytes);
  if (h.total_stored_bytes) {
    std::cout << " (ratio " << double(h.total_raw_bytes) / double(h.total_stored_bytes) << ")";
  }
  std::cout << ", image " << HumanBytes(h.image_end) << "\n";
  if (!r.tables_ok) std::cout << "  warning: tables fail their checksums; run warmboot verify\n";
  uint64_t shown = 0;
  for (const SegmentInfo& s : r.segments) {
    if (shown++ == limit) {
      std::cout << "  ... " << (r.segments.size() - limit) << " more (--segments N or --json)\n";
      break;
    }
    if (!s.record_ok) {
      std::cout << "  " << s.index << "  damaged record: " << Printable(s.problem) << "\n";
      continue;
    }
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", s.mode);
    std::cout << "  " << s.index << "  " << format::EntryTypeName(s.type) << " " << mode << " "
              << Printable(s.path);
    if (s.type == format::EntryType::kSymlink) std::cout << " -> " << Printable(s.target);
    if (s.type == format::EntryType::kFile) {
      std::cout << "  " << HumanBytes(s.size) << " in " << s.chunks << " chunks, stored "
                << HumanBytes(s.stored_bytes);
    }
    std::cout << "\n";
  }
  if (code != kExitOk) {
    std::cout << "  this image will not be restored (" << ImageStateName(r.state) << ")\n";
  }
  return code;
}

}  // namespace warmboot::cli
