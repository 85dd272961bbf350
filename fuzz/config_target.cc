// The configuration parser (orchestration/config.cc) and what the configuration feeds: the next
// kernel's plan, checked and loaded over the fake kexec system.
#include <string>

#include "fuzz/check.h"
#include "fuzz/kernel_cmdline.h"
#include "fuzz/targets.h"
#include "orchestration/config.h"
#include "testing/fake_kexec_system.h"
#include "util/json_text.h"
#include "util/status_json.h"
#include "util/strings.h"

namespace warmboot::fuzz {
namespace {

// The configuration as text ParseConfig reads back to the same values: one `key = value` line
// per key (values are trimmed and hold no '#' or newline, so they need no quoting).
std::string Render(const Config& c) {
  std::string out;
  auto line = [&](const char* key, const std::string& v) {
    out += std::string(key) + " = " + v + "\n";
  };
  line("namespace", c.namespace_name);
  line("state_dir", c.state_dir);
  line("restore_dir", c.restore_dir);
  line("report_dir", c.report_dir);
  line("compression", CompressionName(c.compression));
  line("chunk_size", std::to_string(c.chunk_size));
  line("threads", std::to_string(c.threads));
  line("checkpoint_deadline_ms", std::to_string(c.checkpoint_deadline_ms));
  line("offline_attempts", std::to_string(c.offline_attempts));
  line("offline_backoff_ms", std::to_string(c.offline_backoff_ms));
  line("offline_early", c.offline_early ? "yes" : "no");
  line("offline_early_reserve", std::to_string(c.offline_early_reserve));
  line("drop_page_cache", c.drop_page_cache ? "yes" : "no");
  line("kernel", c.kernel);
  line("initrd", c.initrd);
  line("cmdline", c.cmdline);
  line("append", c.append);
  return out;
}

bool Same(const Config& a, const Config& b) {
  return a.namespace_name == b.namespace_name && a.state_dir == b.state_dir &&
         a.restore_dir == b.restore_dir && a.report_dir == b.report_dir &&
         CompressionName(a.compression) == CompressionName(b.compression) &&
         a.chunk_size == b.chunk_size && a.threads == b.threads &&
         a.checkpoint_deadline_ms == b.checkpoint_deadline_ms &&
         a.offline_attempts == b.offline_attempts && a.offline_backoff_ms == b.offline_backoff_ms &&
         a.offline_early == b.offline_early && a.offline_early_reserve == b.offline_early_reserve &&
         a.drop_page_cache == b.drop_page_cache && a.kernel == b.kernel && a.initrd == b.initrd &&
         a.cmdline == b.cmdline && a.append == b.append;
}

}  // namespace

int FuzzConfig(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto config = ParseConfig(text, "fuzz.conf");
  if (!config.ok()) {
    WB_FUZZ_CHECK(config.status().code() == Code::kInvalidArgument,
                  "config error of another kind: " + config.status().ToString());
    (void)DumpJson(ToJson(config.status()));
    return 0;
  }
  const Config& c = *config;
  // What the parser accepts is within the documented ranges (config/warmboot.conf).
  WB_FUZZ_CHECK(c.chunk_size >= format::kMinChunkSize && c.chunk_size <= format::kMaxChunkSize &&
                    c.chunk_size % 4096 == 0,
                "chunk_size out of range");
  WB_FUZZ_CHECK(c.threads <= 1024 && c.offline_attempts >= 1 && c.offline_attempts <= 1000,
                "threads or offline_attempts out of range");
  for (const std::string* dir : {&c.state_dir, &c.restore_dir, &c.report_dir}) {
    WB_FUZZ_CHECK(!dir->empty() && (*dir)[0] == '/', "a directory that is not absolute");
  }
  auto again = ParseConfig(Render(c), "rendered");
  WB_FUZZ_CHECK(again.ok(),
                "the rendered configuration does not parse: " + again.status().ToString());
  WB_FUZZ_CHECK(Same(c, *again), "the configuration does not survive a round trip");
  (void)TransitionOptionsFrom(c);

  // The next kernel it asks for, over a machine that has every file it names.
  testing::FakeKexecSystem sys;
  KexecRequest request = KexecRequestFromConfig(c);
  for (const std::string& path : {request.kernel, request.initrd}) {
    if (!path.empty()) sys.files[path] = testing::FakeKexecSystem::File{};
  }
  auto plan = ResolveKexecPlan(request, sys);
  // A quote the kernel would leave open among the configured parameters would swallow
  // warmboot.image=: the plan is refused then, and only then (kexec/plan.cc).
  const bool open_quote = ParseKernelCmdline(Trim(request.cmdline)).unterminated_quote ||
                          ParseKernelCmdline(Trim(request.append)).unterminated_quote;
  if (!plan.ok() && plan.status().message().find("unpaired double quote") != std::string::npos) {
    WB_FUZZ_CHECK(open_quote,
                  "refused for a quote the kernel would close: " + plan.status().ToString());
    return 0;
  }
  WB_FUZZ_CHECK(plan.ok(), "no plan: " + plan.status().ToString());
  WB_FUZZ_CHECK(!open_quote, "a plan whose configured parameters leave a quote open");
  (void)DumpJson(ToJson(*plan));
  if (!CheckKexecPlan(&*plan, sys).ok()) return 0;
  auto loaded = LoadKexec(*plan, sys);
  WB_FUZZ_CHECK(loaded.ok(), "load: " + loaded.status().ToString());
  // The next kernel reads its command line as a C string: all of the plan's must reach it.
  WB_FUZZ_CHECK(sys.loads.back().cmdline.find('\0') == std::string::npos,
                "the command line has a NUL byte: the next kernel would read less of it");
  return 0;
}

}  // namespace warmboot::fuzz
