#include <string>

#include "warmboot/pmem.h"

namespace warmboot {
namespace {
const char* kModeNames[] = {"system-ram", "devdax", "raw", "fsdax", "unknown"};
}  // namespace

const char* PmemModeName(PmemMode mode) {
  return kModeNames[static_cast<int>(mode)];
}

PmemMode PmemModeFromName(const std::string& name) {
  for (int i = 0; i < 5; ++i) {
    if (name == kModeNames[i]) return static_cast<PmemMode>(i);
  }
  return PmemMode::kUnknown;
}

uint64_t PmemInfo::OnlineBlocks() const {
  uint64_t n = 0;
  for (const MemoryBlockState& b : blocks) n += b.online;
  return n;
}

}  // namespace warmboot
