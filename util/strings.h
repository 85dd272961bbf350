// Small string helpers shared by the parsers (config, /proc and sysfs values, command lines).
#pragma once

#include <string>
#include <string_view>

namespace warmboot {

// Without leading and trailing blanks (space, tab, CR, LF).
inline std::string Trim(std::string_view s) {
  constexpr std::string_view kBlank = " \t\r\n";
  size_t b = s.find_first_not_of(kBlank);
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(kBlank);
  return std::string(s.substr(b, e - b + 1));
}

}  // namespace warmboot
