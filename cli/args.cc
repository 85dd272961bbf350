#include "cli/args.h"

#include <charconv>

namespace warmboot::cli {

std::optional<std::string> Args::Get(const std::string& name) const {
  auto it = values.find(name);
  if (it == values.end()) return std::nullopt;
  return it->second;
}

Result<Args> ParseArgs(const std::vector<std::string>& argv, std::vector<OptionSpec> spec) {
  spec.push_back({"json", false});
  spec.push_back({"help", false});
  Args args;
  bool options_done = false;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (options_done || a.size() < 2 || a[0] != '-' || a == "-") {
      args.positional.push_back(a);
      continue;
    }
    if (a == "--") {
      options_done = true;
      continue;
    }
    if (a == "-h") {
      args.values["help"] = "";
      continue;
    }
    if (a.rfind("--", 0) != 0) return UsageError("unknown option " + a);
    std::string name = a.substr(2), value;
    bool inline_value = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    const OptionSpec* found = nullptr;
    for (const OptionSpec& s : spec) {
      if (s.name == name) found = &s;
    }
    if (found == nullptr) return UsageError("unknown option --" + name);
    if (found->takes_value && !inline_value) {
      if (i + 1 >= argv.size()) return UsageError("--" + name + " needs a value");
      value = argv[++i];
    } else if (!found->takes_value && inline_value) {
      return UsageError("--" + name + " takes no value");
    }
    args.values[name] = value;
  }
  return args;
}

Result<uint64_t> ParseSize(std::string_view text, std::string_view what) {
  uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || ptr == text.data()) {
    return UsageError(std::string(what) + " takes a size such as 4096, 1M or 2G, not '" +
                      std::string(text) + "'");
  }
  std::string_view unit(ptr, text.data() + text.size() - ptr);
  uint64_t mult = 1;
  if (unit.empty() || unit == "B")
    mult = 1;
  else if (unit == "K" || unit == "KiB" || unit == "k")
    mult = 1ull << 10;
  else if (unit == "M" || unit == "MiB")
    mult = 1ull << 20;
  else if (unit == "G" || unit == "GiB")
    mult = 1ull << 30;
  else if (unit == "T" || unit == "TiB")
    mult = 1ull << 40;
  else {
    return UsageError(std::string(what) + ": unknown unit '" + std::string(unit) +
                      "' (use K, M, G or T)");
  }
  if (n > UINT64_MAX / mult) return UsageError(std::string(what) + " is too large");
  return n * mult;
}

Result<uint64_t> ParseUint(std::string_view text, std::string_view what) {
  uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || ptr == text.data() || ptr != text.data() + text.size()) {
    return UsageError(std::string(what) + " takes a whole number, not '" + std::string(text) + "'");
  }
  return n;
}

Result<unsigned> ParseCount(std::string_view text, std::string_view what) {
  unsigned n = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || ptr != text.data() + text.size() || n == 0 || n > 1024) {
    return UsageError(std::string(what) + " takes a whole number from 1 to 1024, not '" +
                      std::string(text) + "'");
  }
  return n;
}

}  // namespace warmboot::cli

namespace warmboot::cli {
bool WantsJson(const std::vector<std::string>& argv) {
  for (const std::string& a : argv) {
    if (a == "--") return false;
    if (a == "--json") return true;
  }
  return false;
}
}  // namespace warmboot::cli
