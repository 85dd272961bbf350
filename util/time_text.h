// Moments as people read them in messages: "2026-12-05 21:33 UTC (3 days ago)".
#pragma once

#include <cstdint>
#include <string>

namespace warmboot {

// `unix_ns` in UTC to the minute, with how long before `now_ns` it was: "2026-12-05 21:33 UTC
// (42 s ago)", "(5 min ago)", "(3 h ago)", "(12 days ago)"; "(in the future)" when after it.
std::string HumanMoment(int64_t unix_ns, int64_t now_ns);

}  // namespace warmboot
