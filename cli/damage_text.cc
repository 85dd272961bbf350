#include "cli/damage_text.h"

namespace warmboot::cli {

void PrintDamage(std::ostream& out, const VerifyReport& r) {
  for (const DamagedSegment& d : r.damaged) {
    out << "  segment " << d.index << " " << (d.path.empty() ? "(path unreadable)" : d.path) << ": "
        << d.reason;
    if (!d.damaged_ranges.empty()) {
      out << " [" << d.damaged_ranges.size() << " damaged range"
          << (d.damaged_ranges.size() > 1 ? "s" : "") << ", first at byte "
          << d.damaged_ranges.front().offset << "]";
    }
    if (!d.quarantined_as.empty()) out << " -> " << d.quarantined_as;
    out << "\n";
  }
  for (const std::string& p : r.image_problems) out << "  image: " << p << "\n";
}

}  // namespace warmboot::cli
