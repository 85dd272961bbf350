#include "restore/metrics_text.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>

#include "orchestration/report_store.h"
#include "restore/boot_record.h"
#include "util/json_text.h"

namespace warmboot {
namespace {

struct Family {
  std::string help;
  std::map<std::string, double> samples;  // rendered label set -> value (sorted, unique)
};

class Families {
 public:
  void Add(const std::string& name, const std::string& help, double value,
           const std::vector<std::pair<std::string, std::string>>& labels = {}) {
    Family& f = families_[name];
    f.help = help;
    std::string set;
    for (const auto& [k, v] : labels) {
      set += (set.empty() ? "" : ",") + k + "=\"" + Escape(v) + "\"";
    }
    if (!set.empty()) set = "{" + set + "}";
    f.samples[set] += value;  // a phase run twice is one series: its time summed
  }

  std::string Text() const {
    std::string out;
    for (const auto& [name, f] : families_) {
      out += "# HELP " + name + " " + f.help + "\n# TYPE " + name + " gauge\n";
      for (const auto& [labels, value] : f.samples)
        out += name + labels + " " + Number(value) + "\n";
    }
    return out;
  }

 private:
  static std::string Escape(const std::string& v) {
    std::string out;
    for (char c : v) {
      if (c == '\\')
        out += "\\\\";
      else if (c == '"')
        out += "\\\"";
      else if (c == '\n')
        out += "\\n";
      else
        out += c;
    }
    return out;
  }
  static std::string Number(double v) {
    char buf[40];
    if (std::nearbyint(v) == v && std::fabs(v) < 1e15) {
      std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
    } else if (std::fabs(v) >= 1e6) {
      // Timestamps: to the microsecond, not rounded to ten seconds by %g.
      std::snprintf(buf, sizeof buf, "%.6f", v);
    } else {
      std::snprintf(buf, sizeof buf, "%.9g", v);
    }
    return buf;
  }
  std::map<std::string, Family> families_;
};

bool Has(const nlohmann::json& j, const char* key) {
  return j.is_object() && j.contains(key);
}

double PhaseTotal(const nlohmann::json& report) {
  double s = 0;
  if (Has(report, "phases") && report["phases"].is_array()) {
    for (const auto& p : report["phases"]) s += PhaseSeconds(p);
  }
  return s;
}

void AddPhases(Families& m, const std::string& name, const std::string& what,
               const nlohmann::json& report) {
  if (!Has(report, "phases") || !report["phases"].is_array()) return;
  for (const auto& p : report["phases"]) {
    if (!p.is_object() || !p.contains("phase") || !p["phase"].is_string()) continue;
    m.Add(name, "Seconds each phase of the last " + what + " took.", PhaseSeconds(p),
          {{"phase", p["phase"].get<std::string>()}});
  }
}

}  // namespace

std::string MetricsText(const MetricsFacts& f) {
  Families m;
  if (f.boot.is_object()) {
    const std::string type = JsonString(f.boot, "type");
    for (const char* t : {"warm", "cold", "failed-warm"}) {
      m.Add("warmboot_boot_type",
            "This boot's type as warmboot restore --boot recorded it: 1 for the type it was.",
            type == t ? 1 : 0, {{"type", t}});
    }
    m.Add("warmboot_boot_recorded_timestamp_seconds",
          "When this boot's type was recorded, in seconds since the epoch.",
          JsonNumber(f.boot, "recorded_ns") / 1e9);
  }
  if (f.restore.is_object()) {
    const std::string outcome = JsonString(f.restore, "outcome");
    for (const char* o : {"restored", "partial", "nothing-to-restore", "already-restored",
                          "no-valid-image", "stale-image", "failed"}) {
      m.Add("warmboot_restore_outcome", "This boot's restore outcome: 1 for the outcome it had.",
            outcome == o ? 1 : 0, {{"outcome", o}});
    }
    m.Add("warmboot_restore_success", "1 when this boot's restore succeeded, else 0.",
          JsonBool(f.restore, "ok") ? 1 : 0);
    m.Add("warmboot_restore_seconds", "Seconds this boot's restore took (its phases).",
          PhaseTotal(f.restore));
    AddPhases(m, "warmboot_restore_phase_seconds", "restore", f.restore);
    m.Add("warmboot_memory_returned",
          "1 when the pmem is back in System RAM after this boot's restore (by the restore, or "
          "by the give-back it left for after warmboot-state.target), else 0.",
          JsonBool(f.restore, "memory_returned") ? 1 : 0);
    if (Has(f.restore, "give_back")) {
      m.Add("warmboot_give_back_seconds",
            "Seconds the give-back after warmboot-state.target took (devdax, kmem, online): "
            "off the blackout.",
            PhaseTotal(f.restore["give_back"]));
    }
    if (Has(f.restore, "unpack")) {
      m.Add("warmboot_restored_bytes", "Bytes of state this boot's restore wrote back.",
            JsonNumber(f.restore["unpack"], "bytes_written"));
    }
  }
  if (f.preserve.is_object()) {
    m.Add("warmboot_preserve_success", "1 when the last preserve succeeded, else 0.",
          JsonBool(f.preserve, "ok") ? 1 : 0);
    m.Add("warmboot_preserve_image_sealed", "1 when the last preserve sealed its image, else 0.",
          JsonBool(f.preserve, "image_sealed") ? 1 : 0);
    m.Add("warmboot_preserve_timestamp_seconds",
          "When the last preserve started, in seconds since the epoch.",
          JsonNumber(f.preserve, "started_ns") / 1e9);
    m.Add("warmboot_preserve_seconds", "Seconds the last preserve took (its phases).",
          PhaseTotal(f.preserve));
    AddPhases(m, "warmboot_preserve_phase_seconds", "preserve", f.preserve);
    if (Has(f.preserve, "pack")) {
      const nlohmann::json& pack = f.preserve["pack"];
      m.Add("warmboot_preserved_bytes", "Bytes of state the last preserve packed.",
            JsonNumber(pack, "raw_bytes"));
      m.Add("warmboot_preserved_image_bytes", "Bytes of the image the last preserve wrote.",
            JsonNumber(pack, "image_bytes"));
      m.Add("warmboot_image_generation", "The generation of the last image preserved.",
            JsonNumber(pack, "generation"));
    }
  }
  if (f.timeline) {
    const Timeline& t = *f.timeline;
    m.Add("warmboot_last_warm_reboot_timestamp_seconds",
          "When the last warm reboot's blackout began, in seconds since the epoch.",
          t.start_ns / 1e9);
    m.Add("warmboot_blackout_seconds",
          "The last warm reboot's blackout as warmboot sees it: from the hand-over to systemd "
          "to the end of the restore.",
          t.seconds);
    m.Add("warmboot_blackout_warmboot_seconds",
          "The part of the last warm reboot's blackout spent in warmboot's own phases.",
          t.warmboot_seconds);
    m.Add("warmboot_blackout_kexec_error_seconds",
          "How far the kexec segment of the last blackout may be off (tsc: the calibration; "
          "realtime: the RTC's whole second).",
          t.kexec_error_seconds);
    for (const TimelineSegment& s : t.segments) {
      m.Add("warmboot_blackout_segment_seconds",
            "Seconds each segment of the last warm reboot's blackout took; owner is warmboot "
            "or system.",
            s.seconds, {{"owner", s.warmboot ? "warmboot" : "system"}, {"segment", s.name}});
    }
  } else if (Has(f.last_warm, "blackout") && f.last_warm["blackout"].is_object()) {
    const nlohmann::json& b = f.last_warm["blackout"];
    m.Add("warmboot_last_warm_reboot_timestamp_seconds",
          "When the last warm reboot's blackout began, in seconds since the epoch.",
          JsonNumber(b, "start_ns") / 1e9);
    m.Add("warmboot_blackout_seconds",
          "The last warm reboot's blackout as warmboot sees it: from the hand-over to systemd "
          "to the end of the restore.",
          JsonNumber(b, "seconds"));
    m.Add("warmboot_blackout_warmboot_seconds",
          "The part of the last warm reboot's blackout spent in warmboot's own phases.",
          JsonNumber(b, "warmboot_seconds"));
  }
  if (f.state_waiting) {
    m.Add("warmboot_state_waiting",
          "1 when a sealed image waits on the namespace (its memory out of System RAM).",
          *f.state_waiting ? 1 : 0);
  }
  return m.Text();
}

nlohmann::json LastPreserveReport(const Config& config) {
  auto here = LoadReport(config.report_dir, "preserve");
  auto kept = LoadReport(config.history_dir, "last-preserve");
  const nlohmann::json a = here.ok() && here->is_object() ? *here : nlohmann::json(nullptr);
  const nlohmann::json b = kept.ok() && kept->is_object() ? *kept : nlohmann::json(nullptr);
  if (a.is_null()) return b;
  if (b.is_null()) return a;
  // The same preserve in both: the history's copy has its last phase (the medium's was written
  // during it).
  return JsonInt(a, "started_ns") > JsonInt(b, "started_ns") ? a : b;
}

MetricsFacts MetricsFactsFromFiles(const Config& config, const std::string& boot_id) {
  MetricsFacts f;
  auto boot = LoadReport(config.report_dir, "boot");
  if (boot.ok() && boot->is_object() && boot->value("boot_id", "") == boot_id) f.boot = *boot;
  auto restore = LoadReport(config.report_dir, "restore");
  if (restore.ok() && restore->is_object() && restore->value("boot_id", "") == boot_id) {
    f.restore = *restore;
    auto t = TimelineFromRestore(f.restore);
    if (t.ok()) f.timeline = *t;
  }
  f.preserve = LastPreserveReport(config);
  auto warm = LastBootOfType(config.history_dir, "warm");
  if (warm.ok()) f.last_warm = *warm;
  return f;
}

std::string MetricsPath(const Config& config) {
  return config.metrics_file == "none" ? "" : config.metrics_file;
}

Status WriteMetricsFile(const std::string& path, const std::string& text) {
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!std::filesystem::is_directory(dir.empty() ? "." : dir, ec)) {
    return NotFound(dir.string() +
                    " does not exist (node_exporter's textfile collector is not set up): " + path +
                    " not written");
  }
  // Not *.prom: the collector never reads the temporary file.
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("cannot write " + tmp, errno);
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const int err = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(tmp.c_str());
    return ErrnoError("cannot write " + tmp, err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    return ErrnoError("cannot write " + path, e);
  }
  return Status::Ok();
}

}  // namespace warmboot
