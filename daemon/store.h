// What warmbootd holds: every application's segments, by owner (uid, app) and name, with the
// limits that keep one uid or app from taking what the others need. Single-threaded: the
// daemon's io_context calls it.
#pragma once

#include <sys/types.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "daemon/segment_fd.h"
#include "util/status.h"

namespace warmboot::daemon {

struct StoreLimits {
  uint64_t segments_per_app = 4096;
  // Every app's together: each is one descriptor in the fd store (FileDescriptorStoreMax=) and
  // about 180 bytes of the daemon's memory while held and exported, so that at this many the
  // daemon stays within 16 MiB of RSS (7.5 MiB of it its libraries).
  uint64_t segments_total = 32768;
  uint64_t bytes_per_app = 1ull << 40;
  uint64_t bytes_per_uid = 1ull << 40;
  // What the pmem can hold for every app's state together (0: unknown, not checked). The
  // image's exact need, with the state directory's files, is checked by preserve.
  uint64_t capacity = 0;
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
  uint64_t id = 0;  // unique in the daemon's life, and across a restart through the fd store
};

class Store {
 public:
  explicit Store(StoreLimits limits) : limits_(limits) {}

  // Stores (or replaces) `name` of `owner`. kNoSpace ("quota") saying how much is missing when
  // the app, the uid or all apps together (the capacity) would go over its limit; the old
  // segment then stays. `id`: the segment's (a reload keeps its ids), 0 for a new one.
  struct Placed {
    uint64_t id = 0;
    uint64_t replaced = 0;  // the id of the segment it replaced, 0 if none
  };
  Result<Placed> Put(const Owner& owner, const std::string& name, SegmentKind kind,
                     SegmentFd segment, uint64_t id = 0);
  // The segment, or kNotFound.
  Result<const SegmentFd*> Get(const Owner& owner, const std::string& name) const;
  // Removes it; what it was (its size and id), or kNotFound.
  Result<SegmentEntry> Drop(const Owner& owner, const std::string& name);
  // `owner`'s segments by name; every owner's with `owner` null (by owner, then name). From
  // entry `from`, at most `limit` of them: a page costs no copy of the others.
  std::vector<SegmentEntry> List(const Owner* owner, uint64_t from = 0,
                                 uint64_t limit = UINT64_MAX) const;
  // Calls f(entry, segment) for each of `owner`'s segments by name, copying nothing but the
  // entry's fields.
  template <typename F>
  void ForEach(const Owner& owner, F f) const {
    auto it = segments_.find(owner);
    if (it == segments_.end()) return;
    for (const auto& [name, held] : it->second) {
      f(SegmentEntry{owner, name, held.kind, held.fd.size, held.id}, held.fd);
    }
  }
  // `owner`'s segment at `offset` in name order, or nullopt. `after`: the name of the one at
  // offset - 1 when the caller knows it, so walking a set in order costs a lookup per step.
  std::optional<SegmentEntry> At(const Owner& owner, uint64_t offset,
                                 const std::string* after = nullptr) const;
  // Every owner holding segments.
  std::vector<Owner> Owners() const;
  uint64_t Count(const Owner& owner) const;
  uint64_t BytesOf(const Owner& owner) const;
  uint64_t BytesOfUid(uid_t uid) const;
  uint64_t Bytes() const { return total_; }
  uint64_t Segments() const { return count_; }
  const StoreLimits& limits() const { return limits_; }
  // New segments get ids from `next` on (a reload skips every id it saw).
  void SkipIds(uint64_t next) { next_id_ = std::max(next_id_, next); }

 private:
  struct Held {
    SegmentKind kind;
    SegmentFd fd;
    uint64_t id;
  };
  StoreLimits limits_;
  std::map<Owner, std::map<std::string, Held>> segments_;
  // Totals kept as segments come and go, so a put costs no walk over the others.
  std::map<Owner, uint64_t> app_bytes_;
  std::map<uid_t, uint64_t> uid_bytes_;
  uint64_t total_ = 0, count_ = 0, next_id_ = 1;
};

}  // namespace warmboot::daemon
