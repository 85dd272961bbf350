// The fd store's journal (daemon/fd_store.h): which segment each kept descriptor is. A memfd of
// the daemon's own holding one JSON line per change ({"put": ID, ...} or {"drop": ID}) after a
// header line; the manager keeps it with the segments. Each daemon instance writes a fresh one
// holding what it reloaded, so a journal only grows with one instance's changes. A line a crash
// tore can only be the last, and is ignored.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "daemon/store.h"
#include "util/status.h"
#include "util/unique_fd.h"

namespace warmboot::daemon {

class Journal {
 public:
  struct Entry {
    SegmentEntry segment;  // owner, name, kind, size, id
    bool sealed = false;
    int64_t mtime_ns = 0, ctime_ns = 0;  // the snapshot rule's, for a tmpfs file
    gid_t gid = 0;                       // the hand-over's (a journal without it: 0)
  };
  struct Contents {
    uint64_t generation = 0;
    std::map<uint64_t, Entry> live;  // by id: put and not dropped
    size_t bad_lines = 0;            // not understood (a torn last line among them)
  };

  // A new journal of `generation`, with its header written.
  static Result<Journal> Create(uint64_t generation);
  // Reads one the manager passed back; InvalidArgument when it is not a journal.
  static Result<Contents> Read(int fd);

  uint64_t generation() const { return generation_; }
  int fd() const { return fd_.get(); }
  std::string name() const { return "journal-" + std::to_string(generation_); }
  Status Put(const Entry& e);
  Status Drop(uint64_t id);
  // Lines written: how much history it holds.
  uint64_t lines() const { return lines_; }

 private:
  Journal(UniqueFd fd, uint64_t generation) : fd_(std::move(fd)), generation_(generation) {}
  Status Append(const std::string& line);
  UniqueFd fd_;
  uint64_t generation_;
  uint64_t lines_ = 0;
};

}  // namespace warmboot::daemon
