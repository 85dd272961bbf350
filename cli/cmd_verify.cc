#include <iostream>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/damage_text.h"
#include "cli/output.h"
#include "image/image.h"
#include "image/image_json.h"
#include "util/bytes.h"

namespace warmboot::cli {

static constexpr const char* kVerifyHelp =
    R"(usage: warmboot verify IMAGE [--threads N] [--direct-io auto|on|off] [--json]

Checks the seal, header and tables of IMAGE and every chunk against its XXH3 hash, without
writing anything. Exit 0 when intact, 3 when some segments are damaged (they are named), 4 when
there is no sealed image.

  --threads   worker threads (default: one per CPU, at most 8)
  --direct-io auto (default: on for block devices), on, or off: O_DIRECT bypasses the page
              cache
)";

int CmdVerify(const Argv& argv) {
  const bool json = WantsJson(argv);
  auto args = ParseArgs(argv, {{"threads", true}, {"direct-io", true}});
  if (!args.ok()) return ReportError(args.status(), json, "verify");
  if (args->Has("help")) {
    std::cout << kVerifyHelp;
    return kExitOk;
  }
  if (args->positional.size() != 1) {
    return ReportError(UsageError("verify takes IMAGE"), json, "verify");
  }
  VerifyOptions options;
  if (auto v = args->Get("threads")) {
    auto n = ParseCount(*v, "--threads");
    if (!n.ok()) return ReportError(n.status(), json, "verify");
    options.threads = *n;
  }
  const std::string& image = args->positional[0];
  FileMediaOptions mo;
  if (auto v = args->Get("direct-io")) {
    auto d = ParseDirectIo(*v);
    if (!d.ok()) return ReportError(d.status(), json, "verify");
    mo.direct_io = *d;
  }
  auto media = OpenFileMedia(image, mo);
  if (!media.ok()) return ReportError(media.status(), json, "verify");
  auto report = VerifyImage(**media, options);
  if (!report.ok()) return ReportError(report.status(), json, "verify");
  const VerifyReport& r = *report;
  int code = r.partial() ? kExitPartial : kExitOk;
  if (json) {
    PrintJson(ToJson(r), code);
    return code;
  }
  std::string id = format::UuidToString(r.header.image_uuid);
  if (!r.partial()) {
    std::cout << "image " << id << " (generation " << r.header.generation << ") on " << image
              << " is sealed and intact: " << r.segments << " segments, "
              << HumanBytes(r.bytes_verified) << " verified in " << r.seconds << " s\n"
              << "  next: warmboot unpack " << image << " DEST_DIR\n";
  } else {
    std::cout << "image " << id << " on " << image << " is damaged: " << r.damaged.size() << " of "
              << r.segments << " segments\n";
    PrintDamage(std::cout, r);
    std::cout << "  the rest verified (" << HumanBytes(r.bytes_verified)
              << "); 'warmboot unpack' restores it and quarantines the damaged segments\n";
  }
  return code;
}

}  // namespace warmboot::cli
