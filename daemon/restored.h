// What the last warm reboot brought back for the applications (docs/api.md, "restored"): the
// segments restore unpacked under RESTORE_DIR/.warmboot-api/UID/APP/SEGMENT (files owned by the
// app's uid, mode 0600), and from the restore report (REPORT_DIR/restore.json) whether this
// boot is warm, the image's generation and when it was written, and which segments were
// damaged (quarantined, not served). Read when the daemon starts, and again when a restore in
// the same boot has changed the tree or the report (Replaced). A tree marked as another image's
// than the report's is a restore under way, or one that failed: nothing of it is served.
// Release removes a file.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "daemon/store.h"
#include "util/status.h"

namespace warmboot::daemon {

struct RestoredSegment {
  std::string name;
  uint64_t size = 0;
  std::string path;  // the file; "" when damaged
  bool damaged = false;
};

class RestoredState {
 public:
  // An empty state (a cold boot) when nothing was restored; never fails: what cannot be read is
  // not served, and said in problems().
  static RestoredState Load(const std::string& restore_dir, const std::string& report_dir);

  bool warm() const { return warm_; }
  uint64_t generation() const { return generation_; }
  int64_t preserved_ns() const { return preserved_ns_; }
  // The owner's restored segments, by name (damaged ones included, marked).
  std::vector<RestoredSegment> For(const Owner& owner) const;
  // The readable file of a sound segment, or kNotFound.
  Result<const RestoredSegment*> Find(const Owner& owner, const std::string& name) const;
  // Removes the file (its memory is freed) and forgets it; its size, or kNotFound.
  Result<uint64_t> Release(const Owner& owner, const std::string& name);
  const std::vector<std::string>& problems() const { return problems_; }
  // Whether a restore has been since this was loaded: `restore_dir`'s mark names another image,
  // or the report in `report_dir` is another file. A mark that cannot be read changes nothing.
  bool Replaced(const std::string& restore_dir, const std::string& report_dir) const;

 private:
  bool warm_ = false;
  uint64_t generation_ = 0;
  int64_t preserved_ns_ = 0;
  std::string mark_;    // the restore directory's mark when loaded
  std::string report_;  // the report file's identity when loaded (inode, size, mtime)
  std::map<Owner, std::map<std::string, RestoredSegment>> segments_;
  std::vector<std::string> problems_;
};

}  // namespace warmboot::daemon
