#include "util/time_text.h"

#include <time.h>

namespace warmboot {

std::string HumanMoment(int64_t unix_ns, int64_t now_ns) {
  time_t secs = static_cast<time_t>(unix_ns / 1000000000);
  struct tm tm;
  char when[64] = "an unknown time";
  if (::gmtime_r(&secs, &tm) != nullptr) ::strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
  std::string ago;
  if (now_ns < unix_ns) {
    ago = "in the future";
  } else {
    const int64_t s = (now_ns - unix_ns) / 1000000000;
    ago = s < 120      ? std::to_string(s) + " s ago"
          : s < 7200   ? std::to_string(s / 60) + " min ago"
          : s < 172800 ? std::to_string(s / 3600) + " h ago"
                       : std::to_string(s / 86400) + " days ago";
  }
  return std::string(when) + " (" + ago + ")";
}

}  // namespace warmboot
