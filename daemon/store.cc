#include "daemon/store.h"

#include <algorithm>

#include "util/bytes.h"

namespace warmboot::daemon {

const char* SegmentKindName(SegmentKind kind) {
  return kind == SegmentKind::kBytes ? "bytes" : "fd";
}

std::optional<SegmentEntry> Store::At(const Owner& owner, uint64_t offset,
                                      const std::string* after) const {
  auto app = segments_.find(owner);
  if (app == segments_.end() || offset >= app->second.size()) return std::nullopt;
  auto it = after != nullptr ? app->second.upper_bound(*after)
                             : std::next(app->second.begin(), static_cast<std::ptrdiff_t>(offset));
  if (it == app->second.end()) return std::nullopt;
  return SegmentEntry{app->first, it->first, it->second.kind, it->second.fd.size, it->second.id};
}

std::vector<Owner> Store::Owners() const {
  std::vector<Owner> out;
  out.reserve(segments_.size());
  for (const auto& [owner, segs] : segments_) out.push_back(owner);
  return out;
}

uint64_t Store::Count(const Owner& owner) const {
  auto it = segments_.find(owner);
  return it == segments_.end() ? 0 : it->second.size();
}

uint64_t Store::BytesOf(const Owner& owner) const {
  auto it = app_bytes_.find(owner);
  return it == app_bytes_.end() ? 0 : it->second;
}

uint64_t Store::BytesOfUid(uid_t uid) const {
  auto it = uid_bytes_.find(uid);
  return it == uid_bytes_.end() ? 0 : it->second;
}

Result<Store::Placed> Store::Put(const Owner& owner, const std::string& name, SegmentKind kind,
                                 SegmentFd segment, uint64_t id) {
  auto& segs = segments_[owner];
  auto old = segs.find(name);
  const uint64_t replaced = old == segs.end() ? 0 : old->second.fd.size;
  auto refuse = [&](std::string why) {
    if (segs.empty()) segments_.erase(owner);
    return Status(Code::kNoSpace, std::move(why));
  };
  if (old == segs.end() && segs.size() >= limits_.segments_per_app) {
    return refuse(owner.app + " has " + std::to_string(segs.size()) +
                  " segments, the most an app may hold");
  }
  if (old == segs.end() && count_ >= limits_.segments_total) {
    return refuse("warmbootd holds " + std::to_string(count_) +
                  " segments of all apps together, the most it keeps");
  }
  const uint64_t app_after = BytesOf(owner) - replaced + segment.size;
  if (app_after > limits_.bytes_per_app) {
    return refuse(owner.app + " would hold " + HumanBytes(app_after) + ", over its limit of " +
                  HumanBytes(limits_.bytes_per_app) + ": short by " +
                  HumanBytes(app_after - limits_.bytes_per_app));
  }
  const uint64_t uid_after = BytesOfUid(owner.uid) - replaced + segment.size;
  if (uid_after > limits_.bytes_per_uid) {
    return refuse("uid " + std::to_string(owner.uid) + " would hold " + HumanBytes(uid_after) +
                  ", over its limit of " + HumanBytes(limits_.bytes_per_uid) + ": short by " +
                  HumanBytes(uid_after - limits_.bytes_per_uid));
  }
  const uint64_t total_after = total_ - replaced + segment.size;
  if (limits_.capacity != 0 && total_after > limits_.capacity) {
    return refuse("every app's state together would be " + HumanBytes(total_after) +
                  ", more than the pmem holds (" + HumanBytes(limits_.capacity) + "): short by " +
                  HumanBytes(total_after - limits_.capacity));
  }
  Placed placed;
  placed.id = id != 0 ? id : next_id_;
  next_id_ = std::max(next_id_, placed.id + 1);
  if (old != segs.end()) {
    placed.replaced = old->second.id;
    --count_;
  }
  app_bytes_[owner] = app_after;
  uid_bytes_[owner.uid] = uid_after;
  total_ = total_after;
  ++count_;
  segs.insert_or_assign(name, Held{kind, std::move(segment), placed.id});
  return placed;
}

Result<const SegmentFd*> Store::Get(const Owner& owner, const std::string& name) const {
  auto it = segments_.find(owner);
  if (it != segments_.end()) {
    if (auto s = it->second.find(name); s != it->second.end()) return &s->second.fd;
  }
  return Status(Code::kNotFound, owner.app + " has no segment '" + name + "'");
}

Result<SegmentEntry> Store::Drop(const Owner& owner, const std::string& name) {
  auto it = segments_.find(owner);
  if (it != segments_.end()) {
    if (auto s = it->second.find(name); s != it->second.end()) {
      SegmentEntry e{owner, name, s->second.kind, s->second.fd.size, s->second.id};
      it->second.erase(s);
      if (it->second.empty()) segments_.erase(it);
      if ((app_bytes_[owner] -= e.size) == 0) app_bytes_.erase(owner);
      if ((uid_bytes_[owner.uid] -= e.size) == 0) uid_bytes_.erase(owner.uid);
      total_ -= e.size;
      --count_;
      return e;
    }
  }
  return Status(Code::kNotFound, owner.app + " has no segment '" + name + "'");
}

std::vector<SegmentEntry> Store::List(const Owner* owner, uint64_t from, uint64_t limit) const {
  std::vector<SegmentEntry> out;
  auto add = [&](const Owner& o, const std::map<std::string, Held>& segs) {
    if (from >= segs.size()) {  // a whole app before the page
      from -= segs.size();
      return;
    }
    auto it = std::next(segs.begin(), static_cast<std::ptrdiff_t>(from));
    from = 0;
    for (; it != segs.end() && out.size() < limit; ++it) {
      out.push_back({o, it->first, it->second.kind, it->second.fd.size, it->second.id});
    }
  };
  if (owner != nullptr) {
    if (auto it = segments_.find(*owner); it != segments_.end()) add(it->first, it->second);
    return out;
  }
  for (const auto& [o, segs] : segments_) {
    if (out.size() >= limit) break;
    add(o, segs);
  }
  return out;
}

}  // namespace warmboot::daemon
