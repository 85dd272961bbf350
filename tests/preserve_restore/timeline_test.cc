// The blackout's timeline (restore/timeline.h), the metrics text file (restore/metrics_text.h)
// and the SVG (restore/timeline_svg.h), from restore reports made up here: every number known.
#include "restore/timeline.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "restore/metrics_text.h"
#include "restore/timeline_svg.h"
#include "testing/test_util.h"

namespace warmboot {
namespace {

constexpr int64_t kS = 1000000000;
constexpr int64_t kT0 = 1800000000 * kS;  // the hand-over, in the old kernel's realtime
constexpr double kHz = 2e9;               // a 2 GHz TSC

nlohmann::json Clock(int64_t realtime, int64_t boottime, uint64_t tsc) {
  return {{"realtime_ns", realtime}, {"boottime_ns", boottime}, {"tsc", tsc}};
}

// A warm reboot: hand-over at T0; services stop for 2 s; preserve 0.5 s (two phases) from T0+2;
// the old kernel's last moment at T0+2.5; the new kernel starts 1.2 s later (T0+3.7); the
// restore starts 0.8 s into its boot and takes 0.3 s (two phases). The new kernel's realtime is
// `rtc_error` behind (set from the RTC); the TSC counts on through the jump unless `tsc_reset`.
nlohmann::json Reboot(double rtc_error = 0.4, bool tsc_reset = false) {
  const uint64_t tsc_at_t0 = 1000000000000;
  auto tsc = [&](int64_t since_t0_ns) {
    return static_cast<uint64_t>(tsc_at_t0 + since_t0_ns * (kHz / kS));
  };
  nlohmann::json preserve{
      {"ok", true},
      {"image_sealed", true},
      {"started_ns", kT0 + 2 * kS},
      {"handed_over_ns", kT0},
      {"phases",
       {{{"phase", "offline memory blocks"}, {"seconds", 0.1}, {"ok", true}},
        {{"phase", "write image"}, {"seconds", 0.4}, {"ok", true}}}},
      {"pack",
       {{"uuid", "3f1c0a55-0000-4000-8000-000000000001"},
        {"generation", 7},
        {"raw_bytes", 1048576},
        {"image_bytes", 1100000}}},
      {"clock",
       {{"start", Clock(kT0 + 2 * kS, 100 * kS, tsc(2 * kS))},
        {"last", Clock(kT0 + 2500 * kS / 1000, 100 * kS + kS / 2, tsc(2500 * kS / 1000))}}}};
  const int64_t zero = kT0 + 3700 * kS / 1000;  // the new kernel's clock zero, truly
  const int64_t rtc = static_cast<int64_t>(rtc_error * kS);
  const int64_t start = zero + 800 * kS / 1000, end = start + 300 * kS / 1000;
  const uint64_t base = tsc_reset ? 0 : tsc_at_t0;
  auto new_tsc = [&](int64_t t) {
    return static_cast<uint64_t>(base + (t - kT0) * (kHz / kS)) + (tsc_reset ? 1000 : 0);
  };
  return {{"ok", true},
          {"outcome", "restored"},
          {"ran_in", "initramfs"},
          {"phases",
           {{{"phase", "unpack and verify"}, {"seconds", 0.25}, {"ok", true}},
            {{"phase", "online memory blocks (movable)"}, {"seconds", 0.05}, {"ok", true}}}},
          {"unpack", {{"bytes_written", 1048576}}},
          {"preserve_report", preserve},
          {"clock",
           {{"start", Clock(start - rtc, start - zero, new_tsc(start))},
            {"end", Clock(end - rtc, end - zero, new_tsc(end))}}}};
}

const TimelineSegment* Find(const Timeline& t, const std::string& name) {
  for (const TimelineSegment& s : t.segments) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

// The preserve report comes back from the medium: a damaged one (phases of the wrong shape)
// gives metrics without those values, never an exception (restore --boot writes them at boot).
TEST(TimelineTest, MetricsFromMalformedPhasesDoNotThrow) {
  MetricsFacts f;
  f.preserve = nlohmann::json::parse(
      R"({"ok": true, "phases": [3, null, {"phase": 7}, {"phase": "x", "seconds": "a"}]})");
  f.restore = nlohmann::json::parse(R"({"outcome": "restored", "phases": {"a": 1}})");
  std::string text;
  EXPECT_NO_THROW(text = MetricsText(f));
  EXPECT_NE(text.find("phase=\"x\""), std::string::npos) << text;
}

TEST(TimelineTest, TheBlackoutFromTheHandOverToTheRestoresEndThroughTheTsc) {
  auto t = TimelineFromRestore(Reboot());
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->start_event, "handed-over");
  EXPECT_EQ(t->start_ns, kT0);
  EXPECT_EQ(t->kexec_method, "tsc");
  EXPECT_NEAR(t->seconds, 4.8, 1e-6);  // 2 + 0.5 + 1.2 + 0.8 + 0.3
  EXPECT_NEAR(t->warmboot_seconds, 0.8, 1e-9);
  ASSERT_TRUE(t->realtime_error_seconds.has_value());
  EXPECT_NEAR(*t->realtime_error_seconds, -0.4, 1e-6) << "the RTC-set clock's error, measured";
  std::vector<std::string> names;
  for (const TimelineSegment& s : t->segments) names.push_back(s.name);
  EXPECT_EQ(names, (std::vector<std::string>{"services stopping", "preserve: offline memory blocks",
                                             "preserve: write image", "shutdown and kexec",
                                             "kernel boot", "restore: unpack and verify",
                                             "restore: online memory blocks (movable)"}));
  EXPECT_NEAR(Find(*t, "services stopping")->seconds, 2.0, 1e-9);
  EXPECT_NEAR(Find(*t, "shutdown and kexec")->seconds, 1.2, 1e-6);
  EXPECT_NEAR(Find(*t, "kernel boot")->seconds, 0.8, 1e-9);
  EXPECT_NEAR(Find(*t, "restore: unpack and verify")->start, 4.5, 1e-6);
  // Contiguous: each segment starts where the one before ends.
  for (size_t i = 1; i < t->segments.size(); ++i) {
    EXPECT_NEAR(t->segments[i].start, t->segments[i - 1].start + t->segments[i - 1].seconds, 1e-6)
        << t->segments[i].name;
  }
  EXPECT_TRUE(Find(*t, "preserve: write image")->warmboot);
  EXPECT_FALSE(Find(*t, "kernel boot")->warmboot);
}

// The applications' readiness (their units active, by the new kernel's clock) ends the
// timeline; the blackout warmboot reports stays the restore's.
TEST(TimelineTest, TheApplicationsReadyEndTheTimelineWithoutChangingTheBlackout) {
  Timeline t = *TimelineFromRestore(Reboot());
  EXPECT_NEAR(t.kernel_zero, 3.7, 1e-6);  // 2 + 0.5 + 1.2
  AddApplicationsReady(&t, {{"db.service", 2.0}, {"cache.service", 1.5}},
                       {"web.service is activating"});
  ASSERT_TRUE(t.applications_ready.has_value());
  EXPECT_NEAR(*t.applications_ready, 5.7, 1e-6) << "the last one, db, at boottime 2.0";
  const TimelineSegment* apps = Find(t, "applications starting");
  ASSERT_NE(apps, nullptr);
  EXPECT_EQ(apps->stage, "applications");
  EXPECT_FALSE(apps->warmboot);
  EXPECT_NEAR(apps->start, 4.8, 1e-6) << "from the restore's end";
  EXPECT_NEAR(apps->seconds, 0.9, 1e-6);
  EXPECT_NE(apps->detail.find("db.service"), std::string::npos) << apps->detail;
  EXPECT_NEAR(t.seconds, 4.8, 1e-6) << "the blackout is unchanged";
  EXPECT_NEAR(t.warmboot_seconds, 0.8, 1e-9);
  EXPECT_NE(std::find(t.notes.begin(), t.notes.end(), "not ready yet: web.service is activating"),
            t.notes.end());
  nlohmann::json j = ToJson(t);
  EXPECT_NEAR(j["applications_ready"]["seconds"].get<double>(), 5.7, 1e-6);
  EXPECT_EQ(j["applications_ready"]["units"].size(), 2u);
  const std::string svg = TimelineSvg(t);
  EXPECT_NE(svg.find("Applications ready again at 5.700 s (the last: db.service"),
            std::string::npos);
  EXPECT_NE(svg.find("class=\"applications-ready\""), std::string::npos);

  Timeline none = *TimelineFromRestore(Reboot());
  AddApplicationsReady(&none, {}, {});
  EXPECT_FALSE(none.applications_ready.has_value());
  EXPECT_EQ(Find(none, "applications starting"), nullptr);
  EXPECT_TRUE(ToJson(none)["applications_ready"].is_null());
  EXPECT_FALSE(none.notes.empty()) << "it says the readiness was not measured";
}

TEST(TimelineTest, ACounterResetFallsBackToTheRealtimeClockAndSaysSo) {
  auto t = TimelineFromRestore(Reboot(0.4, /*tsc_reset=*/true));
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->kexec_method, "realtime");
  EXPECT_EQ(t->kexec_error_seconds, 1.0);
  // The RTC-set clock is 0.4 s behind: the jump looks 0.4 s shorter.
  EXPECT_NEAR(Find(*t, "shutdown and kexec")->seconds, 0.8, 1e-6);
  EXPECT_FALSE(t->notes.empty());
}

TEST(TimelineTest, ANewKernelThatSeemsToStartBeforeTheOldOneEndedCountsZero) {
  auto t = TimelineFromRestore(Reboot(1.5, /*tsc_reset=*/true));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(Find(*t, "shutdown and kexec")->seconds, 0);
  bool said = false;
  for (const std::string& n : t->notes) said = said || n.find("counted as 0") != std::string::npos;
  EXPECT_TRUE(said);
}

TEST(TimelineTest, NoWarmRebootNoTimeline) {
  nlohmann::json cold = Reboot();
  cold["outcome"] = "nothing-to-restore";
  EXPECT_EQ(TimelineFromRestore(cold).status().code(), Code::kNotFound);
  nlohmann::json old = Reboot();
  old.erase("clock");
  EXPECT_EQ(TimelineFromRestore(old).status().code(), Code::kUnsupported);
  nlohmann::json by_hand = Reboot();
  by_hand["preserve_report"].erase("handed_over_ns");
  auto t = TimelineFromRestore(by_hand);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->start_event, "preserve-start");
  EXPECT_EQ(t->segments.front().name, "preserve: offline memory blocks");
}

// The text format as node_exporter's parser reads it: HELP and TYPE once per family before its
// samples, valid names, label values quoted, each series once, values numbers.
void CheckPrometheusText(const std::string& text, std::map<std::string, double>* series) {
  const std::regex name("[a-zA-Z_:][a-zA-Z0-9_:]*");
  const std::regex sample(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$)");
  const std::regex label(R"re(^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$))re");
  std::set<std::string> helped, typed;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    ASSERT_FALSE(line.empty());
    if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) {
      std::istringstream w(line.substr(7));
      std::string n, rest;
      w >> n >> rest;
      EXPECT_TRUE(std::regex_match(n, name)) << line;
      EXPECT_EQ(n.rfind("warmboot_", 0), 0u) << line;
      auto& seen = line[2] == 'H' ? helped : typed;
      EXPECT_TRUE(seen.insert(n).second) << "twice: " << line;
      if (line[2] == 'T') {
        EXPECT_EQ(rest, "gauge");
      }
      continue;
    }
    std::smatch m;
    ASSERT_TRUE(std::regex_match(line, m, sample)) << line;
    EXPECT_TRUE(helped.count(m[1]) && typed.count(m[1])) << "no HELP/TYPE before " << line;
    std::string labels = m[3];
    while (!labels.empty()) {
      std::smatch l;
      ASSERT_TRUE(std::regex_search(labels, l, label)) << line;
      labels = l.suffix();
    }
    size_t used = 0;
    double v = std::stod(m[4], &used);
    EXPECT_EQ(used, m[4].length()) << line;
    EXPECT_TRUE(series->emplace(std::string(m[1]) + std::string(m[2]), v).second)
        << "duplicate series: " << line;
  }
}

TEST(MetricsTest, TheTextFileParsesBackWithEverySeriesOnce) {
  MetricsFacts f;
  f.restore = Reboot();
  f.preserve = f.restore["preserve_report"];
  // A phase run twice is one series, its time summed; a name that needs escaping.
  f.preserve["phases"].push_back({{"phase", "write image"}, {"seconds", 0.1}, {"ok", true}});
  f.preserve["phases"].push_back({{"phase", "odd \"name\" \\ here\n"}, {"seconds", 0.0}});
  f.boot = {{"type", "warm"}, {"reason", "r"}, {"recorded_ns", kT0 + 5 * kS}};
  f.timeline = *TimelineFromRestore(f.restore);
  f.state_waiting = false;
  std::map<std::string, double> series;
  CheckPrometheusText(MetricsText(f), &series);
  EXPECT_EQ(series["warmboot_boot_type{type=\"warm\"}"], 1);
  EXPECT_EQ(series["warmboot_boot_type{type=\"cold\"}"], 0);
  EXPECT_EQ(series["warmboot_restore_outcome{outcome=\"restored\"}"], 1);
  EXPECT_NEAR(series["warmboot_preserve_phase_seconds{phase=\"write image\"}"], 0.5, 1e-9);
  EXPECT_NEAR(series["warmboot_blackout_seconds"], 4.8, 1e-6);
  EXPECT_NEAR(series["warmboot_last_warm_reboot_timestamp_seconds"], kT0 / 1e9, 1e-3)
      << "a timestamp keeps its sub-second digits";
  EXPECT_EQ(series["warmboot_preserved_bytes"], 1048576);
  EXPECT_EQ(series["warmboot_restored_bytes"], 1048576);
  EXPECT_EQ(series["warmboot_image_generation"], 7);
  EXPECT_EQ(series.count("warmboot_state_waiting"), 1u);
  EXPECT_EQ(series.count("warmboot_blackout_segment_seconds{owner=\"system\",segment=\"kernel "
                         "boot\"}"),
            1u);
}

TEST(MetricsTest, WrittenAtomicallyAndOnlyWhereTheDirectoryExists) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/warmboot.prom";
  ASSERT_TRUE(WriteMetricsFile(path, "# HELP warmboot_x x\n").ok());
  EXPECT_EQ(testing::ReadFile(path), "# HELP warmboot_x x\n");
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  EXPECT_EQ(WriteMetricsFile(dir.path() + "/absent/warmboot.prom", "").code(), Code::kNotFound);
}

TEST(SvgTest, OneProportionalBarPerSegmentInAWellFormedDocument) {
  nlohmann::json r = Reboot();
  r["preserve_report"]["phases"][0]["phase"] = "a <tricky> & \"phase\"";
  const Timeline t = *TimelineFromRestore(r);
  const std::string svg = TimelineSvg(t);
  // Well-formed enough: every tag closed in order, nothing raw that XML forbids.
  std::vector<std::string> open;
  const std::regex tag(R"(<(/?)([a-zA-Z?][a-zA-Z0-9-]*)([^<>]*?)(/?)>)");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), tag); it != std::sregex_iterator();
       ++it) {
    const std::smatch& m = *it;
    if (m[2] == "?xml") continue;
    if (m[4] == "/") continue;  // self-closing
    if (m[1] == "/") {
      ASSERT_FALSE(open.empty()) << m[0];
      EXPECT_EQ(open.back(), m[2]) << m[0];
      open.pop_back();
    } else {
      open.push_back(m[2]);
    }
  }
  EXPECT_TRUE(open.empty());
  EXPECT_NE(svg.find("a &lt;tricky&gt; &amp; &quot;phase&quot;"), std::string::npos);
  EXPECT_NE(svg.find("Warm reboot blackout: 4.800 s"), std::string::npos);
  // Every segment has a bar, in the right colour class, as wide as its share of the blackout.
  const std::regex bar(
      R"re(<rect class="(warmboot|system)" x="([0-9.]+)" y="[0-9.]+" width="([0-9.]+)")re");
  const double scale = kSvgChartWidth / t.seconds;
  size_t i = 0;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), bar); it != std::sregex_iterator();
       ++it, ++i) {
    ASSERT_LT(i, t.segments.size());
    const TimelineSegment& s = t.segments[i];
    EXPECT_EQ((*it)[1], s.warmboot ? "warmboot" : "system") << s.name;
    EXPECT_NEAR(std::stod((*it)[2]), kSvgChartLeft + s.start * scale, 0.01) << s.name;
    EXPECT_NEAR(std::stod((*it)[3]), s.seconds * scale, 0.01) << s.name;
    std::string label = std::regex_replace(s.name, std::regex("&"), "&amp;");
    label = std::regex_replace(label, std::regex("<"), "&lt;");
    label = std::regex_replace(label, std::regex(">"), "&gt;");
    label = std::regex_replace(label, std::regex("\""), "&quot;");
    EXPECT_NE(svg.find(">" + label + "</text>"), std::string::npos) << "labelled: " << s.name;
  }
  EXPECT_EQ(i, t.segments.size());
}

// The header's lines stay inside the picture, with an image's uuid and the longest kexec
// method in them: 12 px sans-serif averages under 7 px a character.
TEST(SvgTest, TheHeaderFitsTheWidth) {
  nlohmann::json r = Reboot();
  Timeline t = *TimelineFromRestore(r);
  t.image = "0b1c2d3e-0000-4000-8000-000000000000";
  t.kexec_method = "realtime";
  const std::string svg = TimelineSvg(t);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(svg, m, std::regex(R"re(<svg [^>]*width="([0-9.]+)")re")));
  const double width = std::stod(m[1]);
  const std::regex text(
      R"re(<text x="([0-9.]+)" y="([0-9.]+)"( font-size="16")?[^>]*>([^<]*)</text>)re");
  int header_lines = 0;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), text); it != std::sregex_iterator();
       ++it) {
    if (std::stod((*it)[2]) > 60) continue;  // the header only: labels are checked above
    const double px = (*it)[3].matched ? 9.5 : 7.0;
    EXPECT_LE(std::stod((*it)[1]) + px * (*it)[4].length(), width) << (*it)[4];
    ++header_lines;
  }
  EXPECT_GE(header_lines, 2);
}

}  // namespace
}  // namespace warmboot
