// Proves that unpack writes nothing outside its destination. While armed, every call that
// creates, writes, renames, removes or changes the metadata of a file system entry, made by code
// linked into the binary, is checked to act beneath one directory; one that would act elsewhere,
// or that would follow a symlink to get there, prints the call and aborts. Works by link-time
// wrapping: a binary that uses it links with WARMBOOT_WRITE_GUARD_LINK_OPTIONS
// (fuzz/CMakeLists.txt: -Wl,--wrap=openat and so on), so the library's own calls are checked
// and nothing else (the C++ runtime and the sanitizers call the system directly).
#pragma once

#include <string>

namespace warmboot::fuzz {

// `root` is an absolute path without symlinks (the destination: it may not exist yet).
void ArmWriteGuard(const std::string& root);
void DisarmWriteGuard();
// Calls checked since the binary started (to show the guard is in the path).
unsigned long WriteGuardChecks();

}  // namespace warmboot::fuzz
