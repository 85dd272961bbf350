// A checkpoint round (docs/api.md, "checkpoint"): warmboot preserve asks warmbootd to tell every
// registered application that a warm reboot is coming; each answers ready or decline before its
// deadline. Only a set completed by ready is preserved: an app that declines, misses its
// deadline, disconnects before answering, or is not connected at all starts cold, and the
// result names it. Once the round is over the ready apps' sets are frozen (put and drop refused)
// until the round is released, so what preserve packs is what they declared complete.
// Single-threaded, as the rest of the daemon.
#pragma once

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "daemon/store.h"

namespace warmboot::daemon {

enum class Answer {
  kWaiting,       // told, not answered yet
  kReady,         // its set is complete
  kDeclined,      // said no (with a reason)
  kMissed,        // its deadline passed first
  kDisconnected,  // its last connection closed before it answered
  kAbsent,        // it holds segments and no connection was there to tell
  kTorn,          // ready, but a tmpfs file changed after the hand-over (snapshot rule)
};
const char* AnswerName(Answer answer);

class Round {
 public:
  // A decline's reason is kept up to this many bytes.
  static constexpr size_t kMaxReason = 1024;
  using Clock = std::chrono::steady_clock;
  Round(uint64_t number, Clock::time_point deadline) : number_(number), deadline_(deadline) {}

  uint64_t number() const { return number_; }
  Clock::time_point deadline() const { return deadline_; }

  // `owner` is told, with its own deadline (no later than the round's).
  void Expect(const Owner& owner, Clock::time_point deadline);
  // An owner with segments and no connection.
  void Absent(const Owner& owner);
  bool Expects(const Owner& owner) const;
  // Its answer. A late one counts as missed; a second one, or one from an owner not told, is
  // refused (InvalidArgument).
  Status Record(const Owner& owner, bool ready, const std::string& reason, Clock::time_point now);
  void Disconnected(const Owner& owner);
  // Every app still waiting whose deadline has passed is missed.
  void Expire(Clock::time_point now);
  // Nobody is waiting any more.
  bool Done() const;
  // Ready apps whose tmpfs files changed since the hand-over become torn (checked once, at the
  // end of the round).
  void CheckSnapshots(const Store& store);
  bool IsReady(const Owner& owner) const;
  // The ready apps and how many segments each holds, in (uid, app) order: what preserve packs
  // is their segments in (uid, app, name) order. Their sets are frozen while the round is held.
  std::vector<std::pair<Owner, uint64_t>> Exported(const Store& store) const;

  nlohmann::json ToJson() const;
  // The same members as ToJson's ("round", "apps", "ready", "complete"), written as JSON text
  // after `out` (comma-separated, no braces): the result goes to preserve once per round, and
  // building it as a document cost a tenth of the daemon's work in a round of 1000 apps.
  void AppendResult(std::string& out) const;

 private:
  struct App {
    Answer answer = Answer::kWaiting;
    Clock::time_point deadline;
    std::string reason;
  };
  uint64_t number_;
  Clock::time_point deadline_;
  std::map<Owner, App> apps_;
  // The server asks Expire and Done after every answer: kept so that neither walks every app
  // (which made a round with N apps cost N^2). `waiting_` counts the apps still waiting; no
  // waiting app's deadline is before `next_deadline_` (answers only remove apps, so it stays a
  // lower bound until Expire recomputes it).
  size_t waiting_ = 0;
  Clock::time_point next_deadline_ = Clock::time_point::max();
};

}  // namespace warmboot::daemon
