// /etc/warmboot/warmboot.conf: `key = value` lines, `#` comments. Every key has a default;
// unknown keys and malformed values are errors naming the line. See config/warmboot.conf.
#pragma once

#include <cstdint>
#include <string>

#include "image/image.h"
#include "kexec/kexec.h"
#include "pmem/transitions.h"
#include "util/status.h"

namespace warmboot {

inline constexpr const char* kDefaultConfigPath = "/etc/warmboot/warmboot.conf";

struct Config {
  // Which pmem namespace: "" = the only one on the machine.
  std::string namespace_name;
  std::string state_dir = "/run/warmboot/state";
  std::string restore_dir = "/run/warmboot/restore";
  std::string report_dir = "/run/warmboot/reports";
  // The lock every command that changes the namespace takes (orchestration/machine_lock.h),
  // and how long a second command waits for it before refusing.
  std::string lock_file = "/run/warmboot/lock";
  // What must outlive a reboot (on the root file system, not /run): the last preserve's report,
  // the cause of a reboot that was not warm, the boot history.
  std::string history_dir = "/var/lib/warmboot";
  uint64_t lock_wait_ms = 30000;
  CompressionPolicy compression{CompressionPolicy::Mode::kAuto, 0};
  uint32_t chunk_size = format::kDefaultChunkSize;
  unsigned threads = 0;
  // The checkpoint round (docs/api.md): how long applications are given to answer ready, and
  // whether preserve goes on when some do not (they start cold) or stops before the point of no
  // return (incomplete_checkpoint = continue | abort).
  uint64_t checkpoint_deadline_ms = 10000;
  bool continue_incomplete_checkpoint = true;
  std::string api_socket = "/run/warmboot/api.sock";
  int offline_attempts = 8;
  uint64_t offline_backoff_ms = 25;
  uint64_t offline_block_timeout_ms = 10000;  // one block's offline
  uint64_t offline_timeout_ms = 60000;        // the whole offline step, retries included
  // warmboot reboot offlines the blocks while the services still run (off the blackout) when
  // at least offline_early_reserve bytes stay available after it; otherwise, or when it is
  // refused, the preserve at shutdown does (preserve/reboot.h).
  bool offline_early = true;
  uint64_t offline_early_reserve = 1ull << 30;
  // The restore at boot ('warmboot restore --boot') leaves the pmem raw once it has restored a
  // state, for warmboot-give-back.service to give back after warmboot-state.target (the
  // applications start meanwhile: the give-back is off the blackout), when at least
  // give_back_late_reserve bytes are available after the restore; otherwise it gives it back
  // at once (restore/restore.h).
  bool give_back_late = true;
  uint64_t give_back_late_reserve = 1ull << 30;
  // The clean page cache is dropped before blocks are offlined (pmem/transitions.h).
  bool drop_page_cache = true;
  std::string kernel;   // next kernel; "" = /boot/vmlinuz-$(uname -r)
  std::string initrd;   // "" = /boot/initrd.img-$(uname -r) when it exists
  std::string cmdline;  // "" = /proc/cmdline
  std::string append;   // added to the command line
  // A sealed image the booted kernel's command line does not name (orchestration/this_boot.h):
  // kept for an explicit 'warmboot restore --image UUID' (false), or restored like one named
  // (true: e.g. NVDIMM machines that may come back through the firmware on purpose).
  bool restore_stale_images = false;
  // The Prometheus text file for node_exporter's textfile collector (restore/metrics_text.h),
  // written only where its directory exists; "none": never.
  std::string metrics_file = "/var/lib/prometheus/node-exporter/warmboot.prom";
  std::string source_path;  // where this config came from ("" = built-in defaults)
};

// Reads `path`. A missing file is an error unless `missing_ok` (the default path may be absent:
// then the defaults apply).
Result<Config> LoadConfig(const std::string& path, bool missing_ok);
Result<Config> ParseConfig(const std::string& text, const std::string& origin);

// The next kernel the configuration asks for (kernel, initrd, cmdline, append).
KexecRequest KexecRequestFromConfig(const Config& config);
// How the configuration bounds the memory transitions (offline attempts and backoff).
TransitionOptions TransitionOptionsFrom(const Config& config);

}  // namespace warmboot
