// memmap= as the x86 kernel reads it, for the ranges it makes legacy pmem (see LegacyPmemRanges
// in kexec/kexec.h). Written from the kernel's documented behaviour (parse_memmap_opt and
// memparse): what is modelled is exactly what can add or take away an e820 type 12 range.
#include <algorithm>
#include <array>
#include <cctype>
#include <limits>
#include <optional>
#include <string_view>

#include "kexec/kexec.h"
#include "kexec/kexec_internal.h"

namespace warmboot {
namespace {

constexpr uint64_t kPram = 12;  // E820_TYPE_PRAM

// Sorted, non-overlapping, non-adjacent [start, end) pairs.
class RangeSet {
 public:
  void Add(uint64_t start, uint64_t end) {
    if (start >= end) return;
    ranges_.push_back({start, end});
    std::sort(ranges_.begin(), ranges_.end());
    std::vector<std::pair<uint64_t, uint64_t>> merged;
    for (const auto& r : ranges_) {
      if (!merged.empty() && r.first <= merged.back().second) {
        merged.back().second = std::max(merged.back().second, r.second);
      } else {
        merged.push_back(r);
      }
    }
    ranges_ = std::move(merged);
  }
  void Remove(uint64_t start, uint64_t end) {
    std::vector<std::pair<uint64_t, uint64_t>> kept;
    for (const auto& [s, e] : ranges_) {
      if (e <= start || s >= end) {
        kept.push_back({s, e});
        continue;
      }
      if (s < start) kept.push_back({s, start});
      if (e > end) kept.push_back({end, e});
    }
    ranges_ = std::move(kept);
  }
  void Clear() { ranges_.clear(); }
  std::vector<PhysRange> Ranges() const {
    std::vector<PhysRange> out;
    for (const auto& [s, e] : ranges_) out.push_back({s, e - s});
    return out;
  }

 private:
  std::vector<std::pair<uint64_t, uint64_t>> ranges_;
};

// The kernel's simple_strtoull with base 0: "0x" hex, a leading 0 octal, else decimal. Nothing
// when there is no digit.
std::optional<uint64_t> Number(std::string_view& p) {
  unsigned base = 10;
  size_t i = 0;
  if (p.size() >= 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X') && p.size() > 2 &&
      std::isxdigit(static_cast<unsigned char>(p[2]))) {
    base = 16;
    i = 2;
  } else if (!p.empty() && p[0] == '0') {
    base = 8;
  }
  uint64_t v = 0;
  size_t first = i;
  for (; i < p.size(); ++i) {
    char c = static_cast<char>(std::tolower(static_cast<unsigned char>(p[i])));
    unsigned d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else {
      break;
    }
    if (d >= base) break;
    v = v * base + d;
  }
  if (i == first) return std::nullopt;
  p.remove_prefix(i);
  return v;
}

// The kernel's memparse: a number with an optional K M G T P E suffix (either case).
std::optional<uint64_t> MemSize(std::string_view& p) {
  auto v = Number(p);
  if (!v || p.empty()) return v;
  constexpr std::string_view kSuffixes = "kmgtpe";
  size_t k = kSuffixes.find(static_cast<char>(std::tolower(static_cast<unsigned char>(p[0]))));
  if (k == std::string_view::npos) return v;
  p.remove_prefix(1);
  return *v << (10 * (k + 1));
}

// [start, start + size), clipped at the top of the address space as e820__range_add does.
uint64_t EndOf(uint64_t start, uint64_t size) {
  return size > std::numeric_limits<uint64_t>::max() - start ? std::numeric_limits<uint64_t>::max()
                                                             : start + size;
}

// One entry of a memmap= list.
void ApplyEntry(std::string_view p, RangeSet& pram) {
  if (p.substr(0, 8) == "exactmap") {
    pram.Clear();
    return;
  }
  auto size = MemSize(p);
  if (!size || p.empty()) return;  // rejected, or memmap=NN (a RAM limit): no type 12
  char op = p[0];
  p.remove_prefix(1);
  if (op == '!') {
    auto start = MemSize(p);
    if (start && p.empty()) pram.Add(*start, EndOf(*start, *size));
    return;
  }
  if (op != '%') return;  // '@' RAM, '#' ACPI, '$' reserved: all lose to type 12 where they meet
  uint64_t start = MemSize(p).value_or(0);  // the kernel reads no digits as 0
  uint64_t from = 0, to = 0;
  if (!p.empty() && p[0] == '-') {
    p.remove_prefix(1);
    from = Number(p).value_or(0);
  }
  if (!p.empty() && p[0] == '+') {
    p.remove_prefix(1);
    to = Number(p).value_or(0);
  }
  if (!p.empty()) return;  // rejected before it changes anything
  if (from == 0 && to == kPram) {
    pram.Add(start, EndOf(start, *size));
  } else {
    pram.Remove(start, EndOf(start, *size));  // may remove or retype type 12 there
  }
}

// A parameter's value without the double quotes the kernel strips ("memmap=\"1G!4G\"").
std::string Unquoted(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c != '"') out += c;
  }
  return out;
}

}  // namespace

std::vector<PhysRange> LegacyPmemRanges(const std::string& cmdline) {
  RangeSet pram;
  for (const std::string& token : SplitCmdline(cmdline)) {
    if (token == "--") break;  // init's arguments: the kernel does not read them
    std::string param = Unquoted(token);
    constexpr std::string_view kName = "memmap=";
    if (std::string_view(param).substr(0, kName.size()) != kName) continue;
    std::string_view list = std::string_view(param).substr(kName.size());
    while (true) {
      size_t comma = list.find(',');
      ApplyEntry(list.substr(0, comma), pram);
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
  }
  return pram.Ranges();
}

std::string MemmapParameter(const PhysRange& range) {
  auto human = [](uint64_t n) {
    constexpr std::array<char, 4> kSuffix = {'T', 'G', 'M', 'K'};
    for (size_t i = 0; i < kSuffix.size(); ++i) {
      uint64_t unit = 1ull << (10 * (kSuffix.size() - i));
      if (n != 0 && n % unit == 0) return std::to_string(n / unit) + kSuffix[i];
    }
    return kexec_internal::Hex(n);
  };
  return "memmap=" + human(range.size) + "!" + human(range.start);
}

}  // namespace warmboot
