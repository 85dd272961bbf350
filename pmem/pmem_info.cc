#include <string>

#include "pmem/pmem.h"

namespace warmboot {
const char* PmemModeName(PmemMode mode) {
  switch (mode) {
    case PmemMode::kSystemRam:
      return "system-ram";
    case PmemMode::kDevdax:
      return "devdax";
    case PmemMode::kRaw:
      return "raw";
    case PmemMode::kFsdax:
      return "fsdax";
    case PmemMode::kDisabled:
      return "disabled";
    case PmemMode::kUnknown:
      break;
  }
  return "unknown";
}

PmemMode PmemModeFromName(const std::string& name) {
  for (PmemMode m : {PmemMode::kSystemRam, PmemMode::kDevdax, PmemMode::kRaw, PmemMode::kFsdax,
                     PmemMode::kDisabled}) {
    if (name == PmemModeName(m)) return m;
  }
  return PmemMode::kUnknown;
}

std::string BlockNames(const std::vector<MemoryBlockState>& blocks, bool online) {
  constexpr size_t kMaxListed = 32;  // a 1 TiB namespace has 8192 blocks
  std::string out;
  size_t n = 0;
  for (const MemoryBlockState& b : blocks) {
    if (b.online != online) continue;
    if (++n > kMaxListed) continue;
    out += (n > 1 ? ", memory" : "memory") + std::to_string(b.index);
  }
  if (n > kMaxListed) out += " and " + std::to_string(n - kMaxListed) + " more";
  return out;
}

uint64_t PmemInfo::OnlineBlocks() const {
  uint64_t n = 0;
  for (const MemoryBlockState& b : blocks) n += b.online;
  return n;
}

}  // namespace warmboot
