#include "pmem/ownership.h"

#include <cstring>

namespace warmboot {

Uuid WarmbootDaxUuid(const std::string& identity) {
  // "warmboot" and a 64-bit FNV-1a of the identity, as a version 8 (custom) UUID.
  Uuid u{};
  std::memcpy(u.data(), "warmboot", 8);
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : identity) h = (h ^ c) * 0x100000001b3ull;
  for (int i = 0; i < 8; ++i) u[8 + i] = static_cast<uint8_t>(h >> (8 * (7 - i)));
  u[6] = static_cast<uint8_t>((u[6] & 0x0f) | 0x80);
  u[8] = static_cast<uint8_t>((u[8] & 0x3f) | 0x80);
  return u;
}

Status CheckOwnership(const PmemInfo& info, bool configured, bool carries_image) {
  const std::string leave = "; warmboot leaves it exactly as it is";
  if (info.mode == PmemMode::kFsdax) {
    return Status(Code::kPermission, info.name +
                                         " is an fsdax namespace (its info block and data are "
                                         "not warmboot's)" +
                                         leave);
  }
  if (info.mode == PmemMode::kUnknown) {
    return Status(Code::kPermission, info.name + " is in a mode warmboot does not manage" + leave);
  }
  if (info.mode == PmemMode::kRaw && !carries_image && !info.foreign_signature.empty()) {
    return Status(Code::kPermission, info.name + " carries a " + info.foreign_signature +
                                         " signature that warmboot did not put there" + leave +
                                         " (wipe it with 'wipefs -a " + info.block_device +
                                         "' to hand the namespace to warmboot)");
  }
  if (OwnedWhenRaw(info, configured)) return Status::Ok();
  if (info.mode == PmemMode::kDisabled) {
    // Nothing on the device can be read while it is down: only the name hands it over.
    return Status(Code::kPermission,
                  info.name + " is disabled and the configuration does not name it" + leave +
                      ". If it is warmboot's (a reconfiguration that failed half-way), set "
                      "'namespace = " +
                      info.name + "' in /etc/warmboot/warmboot.conf and run 'warmboot restore'");
  }
  const bool dax = info.mode == PmemMode::kDevdax || info.mode == PmemMode::kSystemRam;
  if (dax && info.dax_uuid == WarmbootDaxUuid(info.identity)) return Status::Ok();
  if (info.mode == PmemMode::kRaw && carries_image) return Status::Ok();
  return Status(Code::kPermission,
                info.name + " (" + PmemModeName(info.mode) +
                    ") is not marked as warmboot's and the configuration does not name it" + leave +
                    ". To hand it over, set 'namespace = " + info.name +
                    "' in /etc/warmboot/warmboot.conf");
}

bool OwnedWhenRaw(const PmemInfo& info, bool configured) {
  return configured || (info.labeled && info.label_name == "warmboot");
}

}  // namespace warmboot
