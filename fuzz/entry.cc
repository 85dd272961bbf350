// The libFuzzer entry point of one target, chosen at compile time (fuzz/CMakeLists.txt).
#include <cstddef>
#include <cstdint>

#include "fuzz/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return warmboot::fuzz::WARMBOOT_FUZZ_TARGET(data, size);
}
