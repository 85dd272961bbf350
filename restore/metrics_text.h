// warmboot's metrics as a Prometheus text file for node_exporter's textfile collector
// (--collector.textfile.directory, /var/lib/prometheus/node-exporter on Debian): what the boot
// was, the last preserve and restore (outcome, phases, bytes), and the last warm reboot's
// blackout (restore/timeline.h). Every metric is prefixed `warmboot_`, in base units (seconds,
// bytes), a gauge with HELP and TYPE lines; a series is written only when its fact is known.
// docs/cli.md, "Metrics", lists them.
//
// Written by `warmboot restore --boot` at every boot and by `warmboot status --prometheus FILE`,
// atomically (a temporary file beside it, then rename: the collector never reads half a file);
// a failure to write is reported, never fatal.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "orchestration/config.h"
#include "restore/timeline.h"
#include "util/status.h"

namespace warmboot {

// What the metrics are made of. Every JSON may be null (not known).
struct MetricsFacts {
  nlohmann::json boot;      // this boot's record (report_dir/boot.json, boot_record.h)
  nlohmann::json restore;   // this boot's restore report (report_dir/restore.json)
  nlohmann::json preserve;  // the last preserve's report (LastPreserveReport)
  // The last warm boot's record in history_dir/boots.jsonl (with its "blackout"), for the
  // blackout after later cold boots; this boot's own timeline wins when there is one.
  nlohmann::json last_warm;
  std::optional<Timeline> timeline;   // this boot's, when it was warm
  std::optional<bool> state_waiting;  // a sealed image waits on the namespace (when known)
};

// The text file's contents: families sorted by name, one HELP and one TYPE line each, label
// values escaped (\\, \", \n). A label set seen twice (a phase run twice) is summed: no
// duplicate series.
std::string MetricsText(const MetricsFacts& facts);

// The newest of report_dir/preserve.json (a preserve of this boot, or the one restore read back
// from the medium) and history_dir/last-preserve.json, by started_ns; null when neither.
nlohmann::json LastPreserveReport(const Config& config);

// The facts as the files hold them: this boot's record, restore and timeline (only when the
// record is this boot's: `boot_id`), the last preserve, the last warm boot in the history.
MetricsFacts MetricsFactsFromFiles(const Config& config, const std::string& boot_id);

// Where the configuration puts the file: metrics_file, or "" when it is "none".
std::string MetricsPath(const Config& config);

// Writes `text` to `path` atomically (path.tmp, then rename). kNotFound when path's directory
// does not exist (node_exporter's textfile collector is not set up: nothing is created for it).
Status WriteMetricsFile(const std::string& path, const std::string& text);

}  // namespace warmboot
