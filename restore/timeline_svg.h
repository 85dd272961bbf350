// The blackout's timeline (timeline.h) drawn as an SVG picture, for `warmboot report --svg`:
// a horizontal time axis from the hand-over to the end of the restore, one bar per segment in
// order (one row each), warmboot's own phases in one colour and the rest (systemd, the kernels)
// in another, each labelled with its name and duration, the total blackout in the title.
// Written by hand: SVG is text, and no library is needed for rectangles and labels.
#pragma once

#include <string>

#include "restore/timeline.h"

namespace warmboot {

// Bar geometry, fixed so that a test (or a reader) can check widths against durations: a
// segment starts at kSvgChartLeft + start * scale and is seconds * scale wide, where scale is
// kSvgChartWidth / the blackout (each bar also carries data-start and data-seconds).
inline constexpr double kSvgChartLeft = 260;
inline constexpr double kSvgChartWidth = 620;

// A complete SVG document (UTF-8, no external references). Names and details are escaped as
// XML text; every element is closed.
std::string TimelineSvg(const Timeline& timeline);

}  // namespace warmboot
