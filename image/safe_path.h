// Path handling that cannot be steered outside a root directory: names from an image are
// validated syntactically, and every directory is opened one component at a time with
// O_NOFOLLOW, so a symlink (even one the image itself planted) is never traversed.
#pragma once

#include <string>
#include <string_view>

#include "util/status.h"
#include "util/unique_fd.h"

namespace warmboot {

// A relative path as an image may carry it: non-empty, at most 4095 bytes, no NUL, no leading
// '/', no empty, "." or ".." component.
Status ValidateRelativePath(std::string_view path);

// "a/b/c" -> {"a/b", "c"}; "c" -> {"", "c"}.
std::pair<std::string_view, std::string_view> SplitParent(std::string_view path);

// Opens directory `rel` ("" is the root itself) beneath `rootfd`. With create_missing, absent
// components are made with mode 0700 (restore fixes modes at the end).
Result<UniqueFd> OpenDirBeneath(int rootfd, std::string_view rel, bool create_missing);

}  // namespace warmboot
