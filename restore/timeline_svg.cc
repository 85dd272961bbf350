#include "restore/timeline_svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "util/time_text.h"

namespace warmboot {
namespace {

constexpr double kRow = 22;          // one segment per row
constexpr double kTop = 90;          // below the title, two subtitle lines and the legend
constexpr double kLabelRight = 250;  // names end here, right-aligned
constexpr const char* kWarmbootColour = "#2b7bba";
constexpr const char* kSystemColour = "#a9a9a9";

std::string Xml(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        // Control characters are not allowed in XML 1.0 text: a name never breaks the document.
        if (c < 0x20 && c != '\t') {
          out += "?";
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

std::string F(const char* fmt, double v) {
  char buf[48];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

// An axis step of 1, 2 or 5 times a power of ten giving at most about ten ticks.
double TickStep(double total) {
  if (total <= 0) return 1;
  const double raw = total / 10;
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * p >= raw) return m * p;
  }
  return 10 * p;
}

}  // namespace

std::string TimelineSvg(const Timeline& t) {
  // The axis runs to the applications' readiness where it is known, past the blackout's end.
  const double end = std::max(t.seconds, t.applications_ready.value_or(0));
  const double total = end > 0 ? end : 1;
  const double scale = kSvgChartWidth / total;
  const double axis_y = kTop + kRow * t.segments.size() + 8;
  const double height = axis_y + 70;
  const double width = kSvgChartLeft + kSvgChartWidth + 110;
  const double share = t.seconds > 0 ? 100 * t.warmboot_seconds / t.seconds : 0;

  std::string s;
  s += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  s += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + F("%.0f", width) + "\" height=\"" +
       F("%.0f", height) + "\" viewBox=\"0 0 " + F("%.0f", width) + " " + F("%.0f", height) +
       "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  s += "<title>warm reboot blackout " + F("%.3f", t.seconds) + " s</title>\n";
  s += "<rect x=\"0\" y=\"0\" width=\"" + F("%.0f", width) + "\" height=\"" + F("%.0f", height) +
       "\" fill=\"#ffffff\"/>\n";
  s += "<text x=\"10\" y=\"22\" font-size=\"16\" font-weight=\"bold\">Warm reboot blackout: " +
       F("%.3f", t.seconds) + " s (warmboot's own phases " + F("%.3f", t.warmboot_seconds) +
       " s, " + F("%.0f", share) + " %)</text>\n";
  // Two lines: one held an image's uuid and both moments and ran past the right edge.
  s += "<text x=\"10\" y=\"40\">" +
       Xml("image " + t.image + ", generation " + std::to_string(t.generation) +
           "; kexec measured by " + t.kexec_method + " (±" + F("%.3g", t.kexec_error_seconds) +
           " s)") +
       "</text>\n";
  s += "<text x=\"10\" y=\"56\">" +
       Xml(std::string("from ") +
           (t.start_event == "handed-over" ? "the hand-over to systemd" : "the preserve's start") +
           " (" + HumanMoment(t.start_ns, t.start_ns).substr(0, 20) +
           ") to the end of the restore (" + t.ran_in + ")") +
       "</text>\n";
  // Legend.
  s += std::string("<rect x=\"10\" y=\"66\" width=\"12\" height=\"12\" fill=\"") + kWarmbootColour +
       "\"/><text x=\"28\" y=\"76\">warmboot</text>\n";
  s += std::string("<rect x=\"100\" y=\"66\" width=\"12\" height=\"12\" fill=\"") + kSystemColour +
       "\"/><text x=\"118\" y=\"76\">systemd, kernels</text>\n";

  // Grid and axis.
  const double step = TickStep(total);
  s += "<g class=\"axis\" stroke=\"#dddddd\">\n";
  for (double x = 0; x <= total + 1e-9; x += step) {
    const double px = kSvgChartLeft + x * scale;
    s += "<line x1=\"" + F("%.2f", px) + "\" y1=\"" + F("%.0f", kTop - 4) + "\" x2=\"" +
         F("%.2f", px) + "\" y2=\"" + F("%.0f", axis_y) + "\"/>\n";
  }
  s += "</g>\n";
  s += "<line x1=\"" + F("%.0f", kSvgChartLeft) + "\" y1=\"" + F("%.0f", axis_y) + "\" x2=\"" +
       F("%.0f", kSvgChartLeft + kSvgChartWidth) + "\" y2=\"" + F("%.0f", axis_y) +
       "\" stroke=\"#000000\"/>\n";
  for (double x = 0; x <= total + 1e-9; x += step) {
    s += "<text x=\"" + F("%.2f", kSvgChartLeft + x * scale) + "\" y=\"" + F("%.0f", axis_y + 16) +
         "\" text-anchor=\"middle\">" + F("%g", std::round(x * 1e6) / 1e6) + "</text>\n";
  }
  s += "<text x=\"" + F("%.0f", kSvgChartLeft + kSvgChartWidth / 2) + "\" y=\"" +
       F("%.0f", axis_y + 34) + "\" text-anchor=\"middle\">seconds</text>\n";
  std::string last_unit;
  for (const auto& [unit, at] : t.applications) {
    if (t.applications_ready && at == *t.applications_ready) last_unit = unit;
  }
  s += "<text x=\"10\" y=\"" + F("%.0f", axis_y + 56) + "\" fill=\"#555555\">" +
       Xml(t.applications_ready
               ? "Applications ready again at " + F("%.3f", *t.applications_ready) +
                     " s (the last: " + last_unit + ", active in systemd), " +
                     F("%.3f", *t.applications_ready - t.seconds) + " s after the restore."
               : std::string("Applications' own readiness after warmboot-state.target was not "
                             "measured (no application unit was active).")) +
       "</text>\n";
  if (t.applications_ready) {
    const double px = kSvgChartLeft + *t.applications_ready * scale;
    s += "<line class=\"applications-ready\" x1=\"" + F("%.2f", px) + "\" y1=\"" +
         F("%.0f", kTop - 4) + "\" x2=\"" + F("%.2f", px) + "\" y2=\"" + F("%.0f", axis_y) +
         "\" stroke=\"#2a8a2a\" stroke-width=\"2\"><title>applications ready</title></line>\n";
  }

  // One bar per segment.
  for (size_t i = 0; i < t.segments.size(); ++i) {
    const TimelineSegment& seg = t.segments[i];
    const double y = kTop + kRow * i;
    const double x = kSvgChartLeft + seg.start * scale;
    const double w = seg.seconds * scale;
    s += "<g class=\"segment\">\n";
    s += "<text x=\"" + F("%.0f", kLabelRight) + "\" y=\"" + F("%.0f", y + 14) +
         "\" text-anchor=\"end\">" + Xml(seg.name) + "</text>\n";
    s += "<rect class=\"" + std::string(seg.warmboot ? "warmboot" : "system") + "\" x=\"" +
         F("%.3f", x) + "\" y=\"" + F("%.0f", y + 3) + "\" width=\"" + F("%.3f", w) +
         "\" height=\"" + F("%.0f", kRow - 6) + "\" fill=\"" +
         (seg.warmboot ? kWarmbootColour : kSystemColour) + "\"" +
         (seg.ok ? "" : " stroke=\"#cc0000\" stroke-width=\"2\"") + " data-start=\"" +
         F("%.6f", seg.start) + "\" data-seconds=\"" + F("%.6f", seg.seconds) + "\"><title>" +
         Xml(seg.name + ": " + F("%.6f", seg.seconds) + " s" +
             (seg.detail.empty() ? "" : " (" + seg.detail + ")")) +
         "</title></rect>\n";
    s += "<text x=\"" + F("%.3f", x + w + 4) + "\" y=\"" + F("%.0f", y + 14) + "\">" +
         F("%.3f", seg.seconds) + " s" + (seg.ok ? "" : " FAILED") + "</text>\n";
    s += "</g>\n";
  }
  s += "</svg>\n";
  return s;
}

}  // namespace warmboot
