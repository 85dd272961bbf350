#include "orchestration/config.h"

#include <charconv>
#include <sstream>

#include "util/read_file.h"
#include "util/strings.h"

namespace warmboot {
namespace {

// A configuration is a page of text; anything much larger is not one.
constexpr uint64_t kMaxConfigBytes = 1 << 20;

// A whole number for `key`, at most `max`; with `size` also a binary unit (K, M, G), as sizes
// are written. The message names the key and what it takes.
Result<uint64_t> Number(const std::string& v, const std::string& where, const std::string& key,
                        uint64_t max, bool size = false) {
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  uint64_t mult = 1;
  std::string unit(p, v.data() + v.size());
  // The spellings the command line takes too (cli::ParseSize).
  if (size && (unit == "K" || unit == "k" || unit == "KiB"))
    mult = 1ull << 10;
  else if (size && (unit == "M" || unit == "MiB"))
    mult = 1ull << 20;
  else if (size && (unit == "G" || unit == "GiB"))
    mult = 1ull << 30;
  else if (size && unit == "B")
    mult = 1;
  else if (!unit.empty())
    ec = std::errc::invalid_argument;
  if (ec != std::errc() || p == v.data() || n > max / mult) {
    return InvalidArgument(
        where + ": " + key + " takes " +
        (size ? "a size (bytes, or with K/KiB, M/MiB or G/GiB)" : "a whole number") +
        " from 0 to " + std::to_string(max) + ", not '" + v + "'");
  }
  return n * mult;
}

}  // namespace

Result<Config> ParseConfig(const std::string& text, const std::string& origin) {
  Config c;
  c.source_path = origin;
  std::istringstream in(text);
  std::string line;
  for (int lineno = 1; std::getline(in, line); ++lineno) {
    std::string where = origin + ":" + std::to_string(lineno);
    if (size_t hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    line = Trim(line);
    if (line.empty()) continue;
    // A value reaches C strings (the next kernel's command line, paths): a NUL would cut it
    // short there without a word (found by fuzz/config_target.cc).
    if (line.find('\0') != std::string::npos) {
      return InvalidArgument(where + ": contains a NUL byte (the configuration is text)");
    }
    size_t eq = line.find('=');
    if (eq == std::string::npos) return InvalidArgument(where + ": expected 'key = value'");
    std::string key = Trim(line.substr(0, eq)), v = Trim(line.substr(eq + 1));
    if (key == "namespace")
      c.namespace_name = v;
    else if (key == "state_dir")
      c.state_dir = v;
    else if (key == "restore_dir")
      c.restore_dir = v;
    else if (key == "report_dir")
      c.report_dir = v;
    else if (key == "lock_file")
      c.lock_file = v;
    else if (key == "history_dir")
      c.history_dir = v;
    else if (key == "lock_wait_ms") {
      WB_ASSIGN_OR_RETURN(c.lock_wait_ms, Number(v, where, key, 3600000));
    } else if (key == "compression") {
      auto p = ParseCompression(v);
      if (!p.ok()) {
        return InvalidArgument(where +
                               ": compression takes none, zstd, zstd:LEVEL (1-19) or "
                               "auto, not '" +
                               v + "'");
      }
      c.compression = *p;
    } else if (key == "chunk_size") {
      WB_ASSIGN_OR_RETURN(uint64_t n, Number(v, where, key, format::kMaxChunkSize, true));
      if (!format::ValidChunkSize(n)) {
        return InvalidArgument(where + ": chunk_size must be a multiple of 4096 from 4K to 64M");
      }
      c.chunk_size = static_cast<uint32_t>(n);
    } else if (key == "threads") {
      WB_ASSIGN_OR_RETURN(uint64_t n, Number(v, where, key, 1024));
      c.threads = static_cast<unsigned>(n);
    } else if (key == "checkpoint_deadline_ms") {
      WB_ASSIGN_OR_RETURN(c.checkpoint_deadline_ms, Number(v, where, key, 3600000));
    } else if (key == "offline_attempts") {
      WB_ASSIGN_OR_RETURN(uint64_t n, Number(v, where, key, 1000));
      if (n == 0) return InvalidArgument(where + ": offline_attempts must be at least 1");
      c.offline_attempts = static_cast<int>(n);
    } else if (key == "offline_backoff_ms") {
      WB_ASSIGN_OR_RETURN(c.offline_backoff_ms, Number(v, where, key, 60000));
    } else if (key == "offline_block_timeout_ms" || key == "offline_timeout_ms") {
      WB_ASSIGN_OR_RETURN(uint64_t n, Number(v, where, key, 3600000));
      if (n == 0) return InvalidArgument(where + ": " + key + " must be at least 1");
      (key == "offline_timeout_ms" ? c.offline_timeout_ms : c.offline_block_timeout_ms) = n;
    } else if (key == "offline_early" || key == "drop_page_cache" || key == "give_back_late") {
      if (v != "yes" && v != "no") {
        return InvalidArgument(where + ": " + key + " must be 'yes' or 'no', not '" + v + "'");
      }
      (key == "offline_early"    ? c.offline_early
       : key == "give_back_late" ? c.give_back_late
                                 : c.drop_page_cache) = v == "yes";
    } else if (key == "offline_early_reserve" || key == "give_back_late_reserve") {
      WB_ASSIGN_OR_RETURN(
          (key == "offline_early_reserve" ? c.offline_early_reserve : c.give_back_late_reserve),
          Number(v, where, key, 1ull << 50, true));
    } else if (key == "kernel")
      c.kernel = v;
    else if (key == "initrd")
      c.initrd = v;
    else if (key == "cmdline")
      c.cmdline = v;
    else if (key == "append")
      c.append = v;
    else if (key == "api_socket")
      c.api_socket = v;
    else if (key == "metrics_file") {
      if (v != "none" && (v.empty() || v[0] != '/')) {
        return InvalidArgument(where + ": metrics_file must be an absolute path or 'none'");
      }
      c.metrics_file = v;
    } else if (key == "incomplete_checkpoint") {
      if (v != "continue" && v != "abort") {
        return InvalidArgument(
            where + ": incomplete_checkpoint must be 'continue' or 'abort', not '" + v + "'");
      }
      c.continue_incomplete_checkpoint = v == "continue";
    } else if (key == "stale_images") {
      if (v != "keep" && v != "restore") {
        return InvalidArgument(where + ": stale_images must be 'keep' or 'restore', not '" + v +
                               "'");
      }
      c.restore_stale_images = v == "restore";
    } else
      return InvalidArgument(where + ": unknown key '" + key + "'");
  }
  for (const std::string* dir :
       {&c.state_dir, &c.restore_dir, &c.report_dir, &c.lock_file, &c.history_dir}) {
    if (dir->empty() || (*dir)[0] != '/') {
      return InvalidArgument(origin +
                             ": state_dir, restore_dir, report_dir, lock_file and history_dir "
                             "must be absolute paths");
    }
  }
  return c;
}

Result<Config> LoadConfig(const std::string& path, bool missing_ok) {
  auto text = ReadRegularFile(path, kMaxConfigBytes);
  if (!text.ok()) {
    if (text.status().code() == Code::kNotFound && missing_ok) return Config{};
    return text.status().WithContext("cannot read the configuration");
  }
  return ParseConfig(*text, path);
}

KexecRequest KexecRequestFromConfig(const Config& config) {
  return {config.kernel, config.initrd, config.cmdline, config.append};
}

TransitionOptions TransitionOptionsFrom(const Config& config) {
  TransitionOptions o;
  o.offline_attempts = config.offline_attempts;
  o.offline_backoff = std::chrono::milliseconds(config.offline_backoff_ms);
  o.offline_block_timeout = std::chrono::milliseconds(config.offline_block_timeout_ms);
  o.offline_timeout = std::chrono::milliseconds(config.offline_timeout_ms);
  return o;
}

}  // namespace warmboot
