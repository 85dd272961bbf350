#include "orchestration/this_boot.h"

#include <fstream>
#include <iterator>

#include "kexec/kexec.h"
#include "util/host_info.h"

namespace warmboot {

ThisBoot ReadThisBoot() {
  ThisBoot b;
  b.boot_id = CurrentBootId();
  std::ifstream in("/proc/cmdline");
  b.cmdline.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return b;
}

std::string NamedImage(const ThisBoot& boot) {
  auto token = CmdlineParam(boot.cmdline, kImageTokenParam);
  Uuid u;
  if (!token || !ParseUuid(*token, &u)) return "";
  return UuidToString(u);
}

ImageJudgement JudgeImage(const format::Header& header, const ThisBoot& boot) {
  ImageJudgement j;
  j.token = NamedImage(boot);
  const std::string uuid = UuidToString(header.image_uuid);
  if (j.token == uuid) {
    j.intent = ImageIntent::kNamed;
    j.reason = "this boot's command line names it";
  } else if (header.writer_boot_id == boot.boot_id && boot.boot_id != Uuid{}) {
    j.intent = ImageIntent::kSameBoot;
    j.reason = "sealed earlier in this boot (no reboot since the preserve)";
  } else {
    j.intent = ImageIntent::kStale;
    j.reason = j.token.empty() ? std::string("this boot's command line names no image (no ") +
                                     kImageTokenParam + "=)"
                               : "this boot's command line names image " + j.token;
  }
  return j;
}

}  // namespace warmboot
