// The mark that says which image's tree a restore directory holds: the extended attribute
// trusted.warmboot.image on the directory, the image's uuid. Restore sets it (restore/
// restore_dir.h); warmbootd reads it to see that a later restore replaced the tree it serves
// from. Here, below both, so that the two agree on one name.
#pragma once

#include <optional>
#include <string>

namespace warmboot {

inline constexpr const char* kRestoreMarkXattr = "trusted.warmboot.image";

// The uuid (lowercase, dashed) that `dirfd`'s / `dir`'s mark names; "" when there is none (no
// such directory, no mark, a filesystem without extended attributes, not a uuid; trusted.*
// reads as none without root); nullopt when it could not be read (an I/O error, no descriptor
// free), which is not the same as none.
std::optional<std::string> ReadRestoreMark(int dirfd);
std::optional<std::string> ReadRestoreMark(const std::string& dir);

}  // namespace warmboot
