#include "daemon/restored.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "api/names.h"
#include "util/json_text.h"
#include "util/read_file.h"
#include "util/restore_mark.h"

namespace warmboot::daemon {
namespace {

constexpr const char* kApiRoot = ".warmboot-api";

std::vector<std::string> Names(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (struct dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
      out.emplace_back(e->d_name);
    }
  }
  ::closedir(d);
  return out;
}

// "123" -> 123; anything else is not a uid directory.
bool ParseUid(const std::string& s, uid_t* uid) {
  if (s.empty() || s.size() > 10 || s.find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  const unsigned long long v = std::stoull(s);
  if (v > 0xfffffffeull) return false;
  *uid = static_cast<uid_t>(v);
  return true;
}

// A file's identity: another file (a report saved again, by rename) has another.
std::string FileIdentity(const std::string& path) {
  struct stat sb;
  if (::stat(path.c_str(), &sb) != 0) return "";
  return std::to_string(sb.st_ino) + ":" + std::to_string(sb.st_size) + ":" +
         std::to_string(sb.st_mtim.tv_sec) + "." + std::to_string(sb.st_mtim.tv_nsec);
}

}  // namespace

RestoredState RestoredState::Load(const std::string& restore_dir, const std::string& report_dir) {
  RestoredState st;
  st.mark_ = ReadRestoreMark(restore_dir).value_or("");
  st.report_ = FileIdentity(report_dir + "/restore.json");
  // A damaged report (not a file, not JSON, fields of the wrong type) reads as no warm restore.
  auto text = ReadRegularFile(report_dir + "/restore.json", kMaxReportBytes);
  nlohmann::json report =
      text.ok() ? nlohmann::json::parse(*text, nullptr, false) : nlohmann::json(nullptr);
  std::map<std::string, bool> damaged;  // ".warmboot-api/..." paths
  std::string reported;                 // the image the report says was restored
  if (report.is_object()) {
    const std::string outcome = JsonString(report, "outcome");
    st.warm_ = outcome == "restored" || outcome == "partial";
    if (auto u = report.find("unpack"); st.warm_ && u != report.end() && u->is_object()) {
      if (auto img = u->find("image"); img != u->end() && img->is_object()) {
        st.generation_ = static_cast<uint64_t>(std::max<int64_t>(0, JsonInt(*img, "generation")));
        st.preserved_ns_ = JsonInt(*img, "created_ns");
        reported = JsonString(*img, "uuid");
      }
      if (auto d = u->find("damaged"); d != u->end() && d->is_array()) {
        for (const auto& e : *d) {
          if (e.is_object() && e.contains("path") && e["path"].is_string()) {
            damaged[e["path"].get<std::string>()] = true;
          }
        }
      }
    }
  }
  if (!st.mark_.empty() && st.mark_ != reported) {
    // Restore marks the directory before it unpacks, and saves its report after.
    st.problems_.push_back(restore_dir + " holds image " + st.mark_ +
                           "'s tree, which no restore report says is done (a restore under way, "
                           "or one that failed): nothing of it is served");
    st.warm_ = false;
    st.generation_ = 0;
    st.preserved_ns_ = 0;
    return st;
  }
  const std::string root = restore_dir + "/" + kApiRoot;
  for (const std::string& uid_name : Names(root)) {
    uid_t uid;
    if (!ParseUid(uid_name, &uid)) {
      st.problems_.push_back(root + "/" + uid_name + " is not a uid directory; not served");
      continue;
    }
    for (const std::string& app : Names(root + "/" + uid_name)) {
      if (!api::CheckName("application name", app).ok()) continue;
      const std::string dir = root + "/" + uid_name + "/" + app;
      for (const std::string& seg : Names(dir)) {
        if (!api::CheckName("segment name", seg).ok()) continue;
        RestoredSegment r;
        r.name = seg;
        r.path = dir + "/" + seg;
        struct stat sb;
        // Only what restore made: a regular file owned by the app's uid.
        if (::lstat(r.path.c_str(), &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_uid != uid) {
          st.problems_.push_back(r.path + " is not a regular file of uid " + uid_name +
                                 "; not served");
          continue;
        }
        r.size = static_cast<uint64_t>(sb.st_size);
        st.segments_[Owner{uid, app}][seg] = std::move(r);
      }
    }
  }
  // Damaged segments were quarantined: named, not served.
  for (const auto& [path, yes] : damaged) {
    const std::string prefix = std::string(kApiRoot) + "/";
    if (!path.starts_with(prefix)) continue;
    const std::string rest = path.substr(prefix.size());
    const size_t a = rest.find('/'), b = a == std::string::npos ? a : rest.find('/', a + 1);
    uid_t uid;
    if (b == std::string::npos || !ParseUid(rest.substr(0, a), &uid)) continue;
    RestoredSegment r;
    r.name = rest.substr(b + 1);
    r.damaged = true;
    st.segments_[Owner{uid, rest.substr(a + 1, b - a - 1)}][r.name] = std::move(r);
  }
  return st;
}

bool RestoredState::Replaced(const std::string& restore_dir, const std::string& report_dir) const {
  const std::optional<std::string> mark = ReadRestoreMark(restore_dir);
  if (!mark) return false;
  return *mark != mark_ || FileIdentity(report_dir + "/restore.json") != report_;
}

std::vector<RestoredSegment> RestoredState::For(const Owner& owner) const {
  std::vector<RestoredSegment> out;
  if (auto it = segments_.find(owner); it != segments_.end()) {
    for (const auto& [name, seg] : it->second) out.push_back(seg);
  }
  return out;
}

Result<const RestoredSegment*> RestoredState::Find(const Owner& owner,
                                                   const std::string& name) const {
  auto it = segments_.find(owner);
  if (it != segments_.end()) {
    if (auto s = it->second.find(name); s != it->second.end()) {
      if (s->second.damaged) {
        return Status(Code::kNotFound,
                      owner.app + "'s restored segment '" + name + "' was damaged and quarantined");
      }
      return &s->second;
    }
  }
  return Status(Code::kNotFound, owner.app + " has no restored segment '" + name + "'");
}

Result<uint64_t> RestoredState::Release(const Owner& owner, const std::string& name) {
  auto it = segments_.find(owner);
  if (it == segments_.end() || it->second.count(name) == 0) {
    return Status(Code::kNotFound, owner.app + " has no restored segment '" + name + "'");
  }
  RestoredSegment seg = it->second[name];
  if (!seg.path.empty() && ::unlink(seg.path.c_str()) != 0 && errno != ENOENT) {
    return ErrnoError("cannot remove " + seg.path, errno);
  }
  it->second.erase(name);
  return seg.size;
}

}  // namespace warmboot::daemon
