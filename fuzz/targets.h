// The fuzz targets, as plain functions: the libFuzzer binaries (fuzz/entry.cc) call them with
// generated inputs, and the regression test (tests/fuzz_regressions/) with every committed
// seed and reproducer. Each returns 0; a broken invariant prints what broke and aborts, which
// libFuzzer reports as a crash and saves the input. See fuzz/README.md.
#pragma once

#include <cstddef>
#include <cstdint>

namespace warmboot::fuzz {

// Image input: an 8-byte prefix (ImageInputPrefix) and then the medium's bytes. The prefix
// repairs checksums a mutation broke, so the reader's semantic checks are reached, and picks
// options (known bad ranges, a truncated medium, consume, merge, owners). Runs inspect, verify
// and unpack (into a sandbox directory, with every write-type call the library makes checked to
// stay beneath it) and checks what they say against each other and against the restored tree.
int FuzzImage(const uint8_t* data, size_t size);

// Configuration text: ParseConfig, and for what it accepts, a textual round trip and the next
// kernel's plan (check and load over a fake kexec system).
int FuzzConfig(const uint8_t* data, size_t size);

// Kexec command lines. Fields separated by NUL bytes: /proc/cmdline, kernel, initrd, cmdline,
// append, uname -r. FilterRunningCmdline against the kernel's own parser (lib/cmdline.c), then
// ResolveKexecPlan, CheckKexecPlan and LoadKexec over a fake kexec system.
int FuzzKexec(const uint8_t* data, size_t size);

// The checkpoint API's frames: the first byte sets the piece size (1-256) the rest is fed to
// the frame decoder in; every frame decoded must re-encode to itself.
int FuzzApi(const uint8_t* data, size_t size);

// The image prefix, byte by byte.
struct ImageInputPrefix {
  enum Repair : uint8_t {
    kRecords = 1,        // segment record checksums (over record and names)
    kChunks = 2,         // chunk hashes (raw, zero, and zstd frames that decode)
    kTables = 4,         // the three table checksums in the header
    kHeader = 8,         // the header's block checksum
    kSeal = 16,          // a seal bound to the header
    kConsumedSeal = 32,  // ... in state consumed
  };
  enum Option : uint8_t {
    kBadRange = 1,    // the medium reports [bad_offset, +bad_length) as poison
    kTruncate = 2,    // only the first bad_offset bytes read back
    kConsume = 4,     // unpack --consume
    kMergeTwice = 8,  // unpack again with --merge into the same destination
    kOwners = 16,     // restore owners (when root)
  };
  static constexpr size_t kSize = 8;  // repair, options, bad_offset (u32 LE), bad_length (u16 LE)
};

}  // namespace warmboot::fuzz
