// Which kernel, initrd and command line the next boot gets: the request (configuration or
// command-line flags) first, then the running kernel's defaults.
#include <algorithm>
#include <cerrno>

#include "kexec/kexec.h"
#include "kexec/kexec_internal.h"
#include "util/strings.h"

namespace warmboot {

const char* KexecLoaderName(KexecLoader loader) {
  switch (loader) {
    case KexecLoader::kFileLoad:
      return "kexec_file_load";
    case KexecLoader::kKexecTools:
      return "kexec-tools";
  }
  return "unknown";
}

namespace {

// The distribution's initrd for `release`: Debian's name, then Fedora's. A file that exists but
// cannot be opened is still chosen, so the check names it rather than booting without it.
std::string DefaultInitrd(const std::string& release, KexecSystem& sys) {
  for (const std::string& path :
       {"/boot/initrd.img-" + release, "/boot/initramfs-" + release + ".img"}) {
    OpenedFile f;
    int err = sys.Open(path, &f);
    if (err == 0) sys.Close(f.fd);
    if (err != ENOENT) return path;
  }
  return "";
}

// The kernel reads from an unpaired double quote to the end of the line as one value
// (next_arg()): every parameter after it, the image's token among them, would be lost in it, and
// the next boot would keep the sealed image as stale instead of restoring it.
Status CheckQuotesPaired(const std::string& text, const std::string& what, const std::string& fix) {
  if (kexec_internal::KernelQuotesPaired(text)) return Status::Ok();
  return InvalidArgument(what + " has an unpaired double quote (\"" + text +
                         "\"): the next kernel would read everything after it as one value, "
                         "warmboot's own parameters included; " +
                         fix);
}

}  // namespace

Result<KexecPlan> ResolveKexecPlan(const KexecRequest& request, KexecSystem& sys) {
  KexecPlan plan;
  plan.legacy_pmem = request.legacy_pmem;
  std::string release;
  auto uname_r = [&]() -> const std::string& {
    if (release.empty()) release = sys.KernelRelease();
    return release;
  };
  if (!request.kernel.empty()) {
    plan.kernel = request.kernel;
  } else {
    if (uname_r().empty()) {
      return InvalidArgument(
          "cannot tell the running kernel's release (uname); name the next "
          "kernel with `kernel =` in the configuration");
    }
    plan.kernel = "/boot/vmlinuz-" + uname_r();
    plan.default_kernel = true;
  }
  if (request.initrd == "none") {
    plan.initrd = "";
  } else if (!request.initrd.empty()) {
    plan.initrd = request.initrd;
  } else if (!uname_r().empty()) {
    plan.initrd = DefaultInitrd(uname_r(), sys);
  }

  if (!Trim(request.cmdline).empty()) {
    plan.cmdline = Trim(request.cmdline);
    plan.cmdline_origin = "configured";
    WB_RETURN_IF_ERROR(
        CheckQuotesPaired(plan.cmdline, "the configured `cmdline =`", "pair the quotes"));
  } else {
    auto running = sys.ReadFile(kexec_internal::kProcCmdlinePath);
    if (!running.ok()) {
      return Status(running.status().code(),
                    "cannot read the running kernel's command line: " + running.status().message() +
                        "; set `cmdline =` in the configuration");
    }
    FilteredCmdline f = FilterRunningCmdline(*running);
    plan.cmdline = std::move(f.cmdline);
    plan.dropped = std::move(f.dropped);
    plan.cmdline_origin = kexec_internal::kProcCmdlinePath;
    WB_RETURN_IF_ERROR(CheckQuotesPaired(
        plan.cmdline,
        std::string("the running kernel's command line (") + kexec_internal::kProcCmdlinePath +
            ", which the next kernel reuses)",
        "set the next kernel's command line with `cmdline =` in the configuration (and fix the "
        "boot loader's)"));
  }
  WB_RETURN_IF_ERROR(
      CheckQuotesPaired(Trim(request.append), "the configured `append =`", "pair the quotes"));
  plan.cmdline = kexec_internal::WithAppended(plan.cmdline, Trim(request.append));
  // Only the image sealed for the next boot may be named on its command line: a token from this
  // boot's or the configured command line would name an image already restored (or a stale one).
  std::vector<std::string> tokens;
  plan.cmdline = kexec_internal::WithoutParam(plan.cmdline, kImageTokenParam, &tokens);
  for (std::string& t : tokens) plan.dropped.push_back(std::move(t));
  plan.image_token = request.image_token;
  if (!plan.image_token.empty()) {
    plan.cmdline = kexec_internal::WithParam(
        plan.cmdline, std::string(kImageTokenParam) + "=" + plan.image_token);
  }
  return plan;
}

nlohmann::json ToJson(const KexecPlan& p) {
  nlohmann::json j{
      {"kernel", p.kernel},
      {"initrd", p.initrd.empty() ? nlohmann::json(nullptr) : nlohmann::json(p.initrd)},
      {"cmdline", p.cmdline},
      {"cmdline_origin", p.cmdline_origin},
      {"dropped", p.dropped},
      {"image_token",
       p.image_token.empty() ? nlohmann::json(nullptr) : nlohmann::json(p.image_token)},
      {"loader", KexecLoaderName(p.loader)}};
  if (p.legacy_pmem) {
    j["legacy_pmem"] = {{"namespace", p.legacy_pmem->name},
                        {"phys_start", p.legacy_pmem->range.start},
                        {"size", p.legacy_pmem->range.size}};
  }
  if (!p.kexec_tools.empty()) j["kexec_tools"] = p.kexec_tools;
  if (!p.loader_note.empty()) j["loader_note"] = p.loader_note;
  return j;
}

nlohmann::json ToJson(const KexecLoadReport& r) {
  nlohmann::json j{{"loaded", true}, {"loader", KexecLoaderName(r.loader)}};
  if (!r.note.empty()) j["note"] = r.note;
  return j;
}

}  // namespace warmboot
