#include "daemon/store.h"

#include "util/bytes.h"

namespace warmboot::daemon {

const char* SegmentKindName(SegmentKind kind) {
  return kind == SegmentKind::kBytes ? "bytes" : "fd";
}

uint64_t Store::Count(const Owner& owner) const {
  auto it = segments_.find(owner);
  return it == segments_.end() ? 0 : it->second.size();
}

uint64_t Store::BytesOf(const Owner& owner) const {
  uint64_t n = 0;
  if (auto it = segments_.find(owner); it != segments_.end()) {
    for (const auto& [name, held] : it->second) n += held.fd.size;
  }
  return n;
}

uint64_t Store::BytesOfUid(uid_t uid) const {
  uint64_t n = 0;
  for (const auto& [owner, segs] : segments_) {
    if (owner.uid != uid) continue;
    for (const auto& [name, held] : segs) n += held.fd.size;
  }
  return n;
}

Status Store::Put(const Owner& owner, const std::string& name, SegmentKind kind,
                  SegmentFd segment) {
  auto& segs = segments_[owner];
  auto old = segs.find(name);
  const uint64_t replaced = old == segs.end() ? 0 : old->second.fd.size;
  if (old == segs.end() && segs.size() >= limits_.segments_per_app) {
    return Status(Code::kNoSpace, owner.app + " has " + std::to_string(segs.size()) +
                                      " segments, the most an app may hold");
  }
  const uint64_t app_after = BytesOf(owner) - replaced + segment.size;
  if (app_after > limits_.bytes_per_app) {
    return Status(Code::kNoSpace, owner.app + " would hold " + HumanBytes(app_after) +
                                      ", over its limit of " + HumanBytes(limits_.bytes_per_app) +
                                      ": short by " +
                                      HumanBytes(app_after - limits_.bytes_per_app));
  }
  const uint64_t uid_after = BytesOfUid(owner.uid) - replaced + segment.size;
  if (uid_after > limits_.bytes_per_uid) {
    return Status(Code::kNoSpace, "uid " + std::to_string(owner.uid) + " would hold " +
                                      HumanBytes(uid_after) + ", over its limit of " +
                                      HumanBytes(limits_.bytes_per_uid) + ": short by " +
                                      HumanBytes(uid_after - limits_.bytes_per_uid));
  }
  segs.insert_or_assign(name, Held{kind, std::move(segment)});
  return Status::Ok();
}

Result<const SegmentFd*> Store::Get(const Owner& owner, const std::string& name) const {
  auto it = segments_.find(owner);
  if (it != segments_.end()) {
    if (auto s = it->second.find(name); s != it->second.end()) return &s->second.fd;
  }
  return Status(Code::kNotFound, owner.app + " has no segment '" + name + "'");
}

Result<uint64_t> Store::Drop(const Owner& owner, const std::string& name) {
  auto it = segments_.find(owner);
  if (it != segments_.end()) {
    if (auto s = it->second.find(name); s != it->second.end()) {
      const uint64_t size = s->second.fd.size;
      it->second.erase(s);
      if (it->second.empty()) segments_.erase(it);
      return size;
    }
  }
  return Status(Code::kNotFound, owner.app + " has no segment '" + name + "'");
}

std::vector<SegmentEntry> Store::List(const Owner* owner) const {
  std::vector<SegmentEntry> out;
  for (const auto& [o, segs] : segments_) {
    if (owner != nullptr && o != *owner) continue;
    for (const auto& [name, held] : segs) out.push_back({o, name, held.kind, held.fd.size});
  }
  return out;
}

}  // namespace warmboot::daemon
