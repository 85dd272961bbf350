// The restore directory holds one image's tree. A restore writes into it only when it is empty
// or already holds the tree of the image being restored (an interrupted run of that image:
// unpack finishes the job). Anything else there — the tree of an earlier restore in the same
// boot (a preserve --no-kexec, a kexec that failed, then a restore), or of an earlier boot on a
// restore_dir that outlives boots — is moved aside whole, never merged into (files the earlier
// image had and this one lacks would be taken, and served by warmbootd, as this image's) and
// never deleted: the applications may still need it.
//
// The mark is the extended attribute trusted.warmboot.image on the directory (the image's
// uuid, util/restore_mark.h), where the applications reading the tree do not see it. On a
// filesystem without extended attributes nothing is marked, so a later run sets even its own
// tree aside: slower, never wrong.
#pragma once

#include <string>
#include <vector>

#include "util/restore_mark.h"
#include "util/status.h"

namespace warmboot {

// On restore_dir: while a tree is being moved, "MARK/NAME" (the mark it had, where it goes);
// after, the name of the directory the last earlier tree went to. On each such directory: the
// mark its tree had ("" when none), which is what makes it one of warmboot's.
inline constexpr const char* kRestoreDirMovingXattr = "trusted.warmboot.moving";
inline constexpr const char* kRestoreDirAsideXattr = "trusted.warmboot.aside";
inline constexpr const char* kEarlierTreeXattr = "trusted.warmboot.earlier";
inline constexpr const char* kEarlierTreePrefix = ".warmboot-earlier.";

// Makes `dir` (an existing directory, not a symbolic link) image `image_uuid`'s: moves every
// entry of another tree into a fresh dir/.warmboot-earlier.ID (ID the earlier image's uuid from
// the mark, else "unmarked-" and the UTC time; .2, .3, ... when taken, never a directory someone
// else made or can write), leaving lost+found and earlier trees set aside where they are, then
// marks it. What appears while it moves (an application still writing) is moved too. Returns
// the directory the earlier tree went to ("" when none), also for a run that finishes what an
// interrupted one began; what it did and could not do is said in *notes. Errors name the
// entry; the caller's image is then untouched, and a run after the fix moves the rest into the
// same place.
Result<std::string> ClaimRestoreDir(const std::string& dir, const std::string& image_uuid,
                                    std::vector<std::string>* notes);

}  // namespace warmboot
