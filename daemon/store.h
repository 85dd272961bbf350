// What warmbootd holds: every application's segments, by owner (uid, app) and name, with the
// limits that keep one uid or app from taking what the others need. Single-threaded: the
// daemon's io_context calls it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "daemon/segment_fd.h"
#include "util/status.h"

namespace warmboot::daemon {

struct StoreLimits {
  uint64_t segments_per_app = 4096;
  uint64_t bytes_per_app = 1ull << 40;
  uint64_t bytes_per_uid = 1ull << 40;
};

struct Owner {
  uid_t uid = 0;
  std::string app;
  auto operator<=>(const Owner&) const = default;
};

enum class SegmentKind { kBytes, kFd };
const char* SegmentKindName(SegmentKind kind);

struct SegmentEntry {
  Owner owner;
  std::string name;
  SegmentKind kind = SegmentKind::kBytes;
  uint64_t size = 0;
};

class Store {
 public:
  explicit Store(StoreLimits limits) : limits_(limits) {}

  // Stores (or replaces) `name` of `owner`. kNoSpace ("quota") saying how much is missing when
  // the app or the uid would go over its limit; the old segment then stays.
  Status Put(const Owner& owner, const std::string& name, SegmentKind kind, SegmentFd segment);
  // The segment, or kNotFound.
  Result<const SegmentFd*> Get(const Owner& owner, const std::string& name) const;
  // Removes it; its size, or kNotFound.
  Result<uint64_t> Drop(const Owner& owner, const std::string& name);
  // `owner`'s segments by name; every owner's with `owner` null.
  std::vector<SegmentEntry> List(const Owner* owner) const;
  uint64_t Count(const Owner& owner) const;
  uint64_t BytesOf(const Owner& owner) const;
  uint64_t BytesOfUid(uid_t uid) const;

 private:
  struct Held {
    SegmentKind kind;
    SegmentFd fd;
  };
  StoreLimits limits_;
  std::map<Owner, std::map<std::string, Held>> segments_;
};

}  // namespace warmboot::daemon
