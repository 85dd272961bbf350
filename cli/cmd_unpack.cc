#include <unistd.h>

#include <iostream>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/damage_text.h"
#include "cli/output.h"
#include "image/image.h"
#include "image/image_json.h"
#include "util/bytes.h"
#include "util/printable.h"

namespace warmboot::cli {

static constexpr const char* kUnpackHelp =
    R"(usage: warmboot unpack IMAGE DEST_DIR [--consume] [--merge] [--threads N]
                                      [--direct-io auto|on|off] [--json]

Restores a sealed image into DEST_DIR (created if missing; must be empty unless --merge),
verifying every chunk as it goes. Each file appears atomically under its name once complete.
Damaged files go to DEST_DIR/.quarantine/files/ and every damaged segment is listed in
DEST_DIR/.quarantine/report.json; the rest is restored. DEST_DIR itself must not be a symlink.
Owners are restored when run as root. Nothing is written outside DEST_DIR.

  --consume   after everything is on disk, mark the image consumed so it is never restored again
  --merge     allow a non-empty DEST_DIR; files in it with the same names are replaced
  --threads   worker threads (default: one per CPU, at most 8)
  --direct-io auto (default: on for block devices), on, or off: O_DIRECT bypasses the page
              cache
)";

int CmdUnpack(const Argv& argv) {
  const bool json = WantsJson(argv);
  auto args = ParseArgs(
      argv, {{"consume", false}, {"merge", false}, {"threads", true}, {"direct-io", true}});
  if (!args.ok()) return ReportError(args.status(), json, "unpack");
  if (args->Has("help")) {
    std::cout << kUnpackHelp;
    return kExitOk;
  }
  if (args->positional.size() != 2) {
    return ReportError(UsageError("unpack takes IMAGE and DEST_DIR"), json, "unpack");
  }
  UnpackOptions options;
  options.consume = args->Has("consume");
  options.merge = args->Has("merge");
  options.restore_owner = ::geteuid() == 0;
  if (auto v = args->Get("threads")) {
    auto n = ParseCount(*v, "--threads");
    if (!n.ok()) return ReportError(n.status(), json, "unpack");
    options.threads = *n;
  }
  const std::string& image = args->positional[0];
  const std::string& dest = args->positional[1];
  FileMediaOptions mo;
  mo.mode = options.consume ? OpenMode::kReadWrite : OpenMode::kReadOnly;
  if (auto v = args->Get("direct-io")) {
    auto d = ParseDirectIo(*v);
    if (!d.ok()) return ReportError(d.status(), json, "unpack");
    mo.direct_io = *d;
  }
  auto media = OpenFileMedia(image, mo);
  if (!media.ok()) return ReportError(media.status(), json, "unpack");
  auto report = UnpackImage(**media, dest, options);
  if (!report.ok()) return ReportError(report.status(), json, "unpack");
  const UnpackReport& r = *report;
  int code = r.partial() ? kExitPartial : kExitOk;
  if (json) {
    nlohmann::json j = ToJson(r);
    j["destination"] = dest;
    PrintJson(j, code);
    return code;
  }
  std::cout << "restored " << r.files << " files, " << r.directories << " directories, "
            << r.symlinks << " symlinks (" << HumanBytes(r.bytes_written) << ") into " << dest
            << " in " << r.seconds << " s, " << Rate(r.bytes_written, r.seconds) << "\n";
  if (r.partial()) {
    std::cout << "  " << r.damaged.size() << " damaged segment(s), report in "
              << r.quarantine_report << ":\n";
    PrintDamage(std::cout, r);
  }
  if (!r.metadata_problems.empty()) {
    std::cout << "  " << r.metadata_problems.size()
              << " restored segment(s) whose metadata the destination did not take as recorded:\n";
    for (const MetadataProblem& p : r.metadata_problems) {
      std::cout << "  segment " << p.index << " " << Printable(p.path) << ": "
                << Printable(p.problem) << "\n";
    }
  }
  std::cout << (r.consumed ? "  the image is consumed and will not be restored again\n"
                           : "  the image is still sealed; pass --consume to retire it\n");
  return code;
}

}  // namespace warmboot::cli
