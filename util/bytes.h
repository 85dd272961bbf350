// Byte counts as people read them: "512 B", "3.5 KiB", "268.4 MiB", "1.97 GiB".
#pragma once

#include <cstdint>
#include <string>

namespace warmboot {

std::string HumanBytes(uint64_t n);
// The exact count with its human form, for messages where the last byte matters (capacity):
// "553648128 bytes (528.0 MiB)".
std::string ExactBytes(uint64_t n);
// HumanBytes of bytes per second ("-" when no time passed).
std::string Rate(uint64_t bytes, double seconds);

}  // namespace warmboot
