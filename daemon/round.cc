#include "daemon/round.h"

#include "util/json_text.h"

namespace warmboot::daemon {

const char* AnswerName(Answer a) {
  switch (a) {
    case Answer::kWaiting:
      return "waiting";
    case Answer::kReady:
      return "ready";
    case Answer::kDeclined:
      return "declined";
    case Answer::kMissed:
      return "missed";
    case Answer::kDisconnected:
      return "disconnected";
    case Answer::kAbsent:
      return "absent";
    case Answer::kTorn:
      return "torn";
  }
  return "unknown";
}

void Round::Expect(const Owner& owner, Clock::time_point deadline) {
  auto [it, added] = apps_.try_emplace(owner);
  App& a = it->second;
  if (added || a.answer != Answer::kWaiting) ++waiting_;
  a.answer = Answer::kWaiting;
  a.deadline = std::min(deadline, deadline_);
  next_deadline_ = std::min(next_deadline_, a.deadline);
}

void Round::Absent(const Owner& owner) {
  if (apps_.count(owner) == 0) {
    apps_[owner] = App{Answer::kAbsent, deadline_, "no connection when the round began"};
  }
}

bool Round::Expects(const Owner& owner) const {
  return apps_.count(owner) != 0;
}

Status Round::Record(const Owner& owner, bool ready, const std::string& reason,
                     Clock::time_point now) {
  auto it = apps_.find(owner);
  if (it == apps_.end()) {
    return InvalidArgument(owner.app + " was not told of round " + std::to_string(number_));
  }
  App& a = it->second;
  if (a.answer != Answer::kWaiting) {
    return InvalidArgument(owner.app + " already counts as " + AnswerName(a.answer) + " in round " +
                           std::to_string(number_));
  }
  --waiting_;
  if (now > a.deadline) {
    a.answer = Answer::kMissed;
    a.reason = "answered after its deadline";
    return InvalidArgument("the deadline of round " + std::to_string(number_) + " passed");
  }
  a.answer = ready ? Answer::kReady : Answer::kDeclined;
  // Bounded: every reason goes into the one result frame preserve reads (4 MiB for all apps).
  // Cut at a character boundary.
  size_t n = std::min(reason.size(), kMaxReason);
  while (n < reason.size() && n > 0 && (static_cast<unsigned char>(reason[n]) & 0xC0) == 0x80) --n;
  a.reason = reason.substr(0, n);
  return Status::Ok();
}

void Round::Disconnected(const Owner& owner) {
  auto it = apps_.find(owner);
  if (it == apps_.end() || it->second.answer != Answer::kWaiting) return;
  --waiting_;
  it->second.answer = Answer::kDisconnected;
  it->second.reason = "its connection closed before it answered";
}

void Round::Expire(Clock::time_point now) {
  if (now < next_deadline_) return;
  next_deadline_ = Clock::time_point::max();
  for (auto& [owner, a] : apps_) {
    if (a.answer != Answer::kWaiting) continue;
    if (now >= a.deadline) {
      a.answer = Answer::kMissed;
      a.reason = "did not answer before its deadline";
      --waiting_;
    } else {
      next_deadline_ = std::min(next_deadline_, a.deadline);
    }
  }
}

bool Round::Done() const {
  return waiting_ == 0;
}

void Round::CheckSnapshots(const Store& store) {
  for (auto& [owner, a] : apps_) {
    if (a.answer != Answer::kReady) continue;
    store.ForEach(owner, [&](const SegmentEntry& e, const SegmentFd& seg) {
      if (a.answer != Answer::kReady) return;  // torn by an earlier segment
      if (Status s = CheckSnapshot(seg); !s.ok()) {
        a.answer = Answer::kTorn;
        a.reason = "segment '" + e.name + "': " + s.message();
      }
    });
  }
}

bool Round::IsReady(const Owner& owner) const {
  auto it = apps_.find(owner);
  return it != apps_.end() && it->second.answer == Answer::kReady;
}

std::vector<std::pair<Owner, uint64_t>> Round::Exported(const Store& store) const {
  std::vector<std::pair<Owner, uint64_t>> out;
  for (const auto& [owner, a] : apps_) {
    if (a.answer == Answer::kReady) out.emplace_back(owner, store.Count(owner));
  }
  return out;
}

nlohmann::json Round::ToJson() const {
  nlohmann::json apps = nlohmann::json::array();
  size_t ready = 0;
  for (const auto& [owner, a] : apps_) {
    nlohmann::json j{{"uid", owner.uid}, {"app", owner.app}, {"answer", AnswerName(a.answer)}};
    if (!a.reason.empty()) j["reason"] = a.reason;
    apps.push_back(std::move(j));
    ready += a.answer == Answer::kReady;
  }
  return {
      {"round", number_}, {"apps", apps}, {"ready", ready}, {"complete", ready == apps_.size()}};
}

void Round::AppendResult(std::string& out) const {
  size_t ready = 0;
  out += "\"round\":" + std::to_string(number_) + ",\"apps\":[";
  bool first = true;
  for (const auto& [owner, a] : apps_) {
    if (!first) out += ',';
    first = false;
    out += "{\"uid\":" + std::to_string(owner.uid) + ",\"app\":";
    AppendJsonString(out, owner.app);
    out += ",\"answer\":\"";
    out += AnswerName(a.answer);
    out += '"';
    if (!a.reason.empty()) {
      out += ",\"reason\":";
      AppendJsonString(out, a.reason);
    }
    out += '}';
    ready += a.answer == Answer::kReady;
  }
  out += "],\"ready\":" + std::to_string(ready) +
         ",\"complete\":" + (ready == apps_.size() ? "true" : "false");
}

}  // namespace warmboot::daemon
