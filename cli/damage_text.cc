#include "cli/damage_text.h"

#include "util/printable.h"

namespace warmboot::cli {

void PrintDamage(std::ostream& out, const VerifyReport& r) {
  for (const DamagedSegment& d : r.damaged) {
    out << "  segment " << d.index << " "
        << (d.path.empty() ? "(path unreadable)" : Printable(d.path)) << ": "
        << Printable(d.reason);
    if (!d.damaged_ranges.empty()) {
      out << " [" << d.damaged_ranges.size() << " damaged range"
          << (d.damaged_ranges.size() > 1 ? "s" : "") << ", first at byte "
          << d.damaged_ranges.front().offset << "]";
    }
    if (!d.quarantined_as.empty()) out << " -> " << Printable(d.quarantined_as);
    out << "\n";
  }
  for (const std::string& p : r.image_problems) out << "  image: " << Printable(p) << "\n";
}

}  // namespace warmboot::cli
