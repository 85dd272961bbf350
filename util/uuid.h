// 16-byte UUIDs: the image's identity, the kernel's boot id. Text form is the usual
// 8-4-4-4-12 lowercase hex.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace warmboot {

using Uuid = std::array<uint8_t, 16>;

std::string UuidToString(const Uuid& u);
// Accepts 32 hex digits with any dashes; false (and *out untouched) otherwise.
bool ParseUuid(const std::string& text, Uuid* out);
// A random (version 4) UUID from getrandom(2).
Uuid RandomUuid();

}  // namespace warmboot
