#include "cli/checkpoint_round.h"

#include <set>
#include <utility>
#include <vector>

#include "client/client.h"
#include "util/fd_limit.h"
#include "util/unique_fd.h"

namespace warmboot::cli {

namespace {

constexpr const char* kApiRoot = ".warmboot-api";

// The round's result and its ready sets as image entries, from a connection that holds it.
Result<CheckpointRound> Collect(std::shared_ptr<client::Client> c, const client::RoundResult& rr);

Result<std::shared_ptr<client::Client>> ConnectAdmin(const std::string& socket) {
  // Every exported segment is a descriptor held until the image is written (util/fd_limit.h).
  RaiseOpenFileLimit();
  auto connected = client::Client::Connect("warmboot", socket, 0, /*observer=*/true);
  if (!connected.ok()) return connected.status();
  return std::make_shared<client::Client>(std::move(*connected));
}

}  // namespace

Result<CheckpointRound> RunCheckpointRound(const std::string& socket, uint64_t deadline_ms,
                                           uint64_t hold_ms) {
  WB_ASSIGN_OR_RETURN(std::shared_ptr<client::Client> c, ConnectAdmin(socket));
  auto rr = c->Checkpoint(static_cast<uint32_t>(std::min<uint64_t>(deadline_ms, 3600000)),
                          static_cast<uint32_t>(std::min<uint64_t>(hold_ms, 3600000)));
  // Whatever fails after the round began ends it here: a held round left behind would keep the
  // sets frozen for its whole hold.
  if (!rr.ok()) {
    (void)c->EndRound();
    return rr.status();
  }
  auto out = Collect(c, *rr);
  if (!out.ok()) (void)c->EndRound();
  return out;
}

Result<CheckpointRound> AdoptCheckpointRound(const std::string& socket, uint64_t round) {
  WB_ASSIGN_OR_RETURN(std::shared_ptr<client::Client> c, ConnectAdmin(socket));
  WB_ASSIGN_OR_RETURN(client::RoundResult rr, c->Adopt(round));
  auto out = Collect(c, rr);
  if (!out.ok()) (void)c->EndRound();
  return out;
}

Result<CheckpointRound> RetryWhileBusy(
    const std::function<Result<CheckpointRound>()>& adopt, std::chrono::milliseconds window,
    const std::function<std::chrono::steady_clock::time_point()>& now,
    const std::function<void()>& pause) {
  const auto give_up = now() + window;
  auto adopted = adopt();
  while (!adopted.ok() && adopted.status().code() == Code::kBusy && now() < give_up) {
    pause();
    adopted = adopt();
  }
  return adopted;
}

Status EndHeldRound(const std::string& socket, uint64_t round) {
  WB_ASSIGN_OR_RETURN(std::shared_ptr<client::Client> c, ConnectAdmin(socket));
  WB_RETURN_IF_ERROR(c->Adopt(round).status());
  return c->EndRound();
}

namespace {

Result<CheckpointRound> Collect(std::shared_ptr<client::Client> c, const client::RoundResult& rr) {
  CheckpointRound out;
  out.complete = rr.complete;
  nlohmann::json apps = nlohmann::json::array();
  for (const client::RoundResult::App& a : rr.apps) {
    nlohmann::json j{{"uid", a.uid}, {"app", a.app}, {"answer", a.answer}};
    if (!a.reason.empty()) j["reason"] = a.reason;
    apps.push_back(std::move(j));
    if (a.answer != "ready") {
      out.not_ready.push_back(a.app + " (uid " + std::to_string(a.uid) + "): " + a.answer +
                              (a.reason.empty() ? "" : ": " + a.reason));
    }
  }
  out.result = {{"round", rr.round},       {"complete", rr.complete}, {"ready", rr.ready},
                {"segments", rr.segments}, {"bytes", rr.bytes},       {"apps", std::move(apps)}};
  auto fds = std::make_shared<std::vector<UniqueFd>>();
  std::set<std::string> dirs;
  // Files and directories get the group of the process that handed the segment over (the
  // daemon took it from SO_PEERCRED), not one looked up here: at shutdown a user database
  // behind the network (LDAP, sssd) may not answer, and this runs inside the blackout.
  auto dir = [&](const std::string& path, uint32_t mode, uid_t uid, gid_t gid) {
    if (dirs.insert(path).second) out.entries.push_back({path, true, -1, mode, uid, gid});
  };
  // Pipelined: one request per segment, but not one round trip each (3000 segments took 10 s
  // under QEMU one by one, all of it inside preserve).
  WB_ASSIGN_OR_RETURN(std::vector<client::Exported> exported, c->ExportRange(0, rr.segments));
  for (client::Exported& e : exported) fds->emplace_back(e.fd);
  for (const client::Exported& e : exported) {
    // The daemon checked both names (api/names.h): each is one path component.
    const std::string uid = std::to_string(e.uid);
    dir(kApiRoot, 0755, 0, 0);
    dir(std::string(kApiRoot) + "/" + uid, 0700, e.uid, e.gid);
    dir(std::string(kApiRoot) + "/" + uid + "/" + e.app, 0700, e.uid, e.gid);
    out.entries.push_back({std::string(kApiRoot) + "/" + uid + "/" + e.app + "/" + e.segment, false,
                           e.fd, 0600, e.uid, e.gid});
  }
  out.keep = std::make_shared<
      std::pair<std::shared_ptr<client::Client>, std::shared_ptr<std::vector<UniqueFd>>>>(c, fds);
  out.end = [c] { (void)c->EndRound(); };
  return out;
}

}  // namespace

}  // namespace warmboot::cli
