// api_handover: what warmbootd spends to take a memfd, and how much memory it keeps, for
// bench/api (see bench/README.md).
//
//   api_handover --warmbootd PATH --dir DIR [--size 1G] [--runs 3] [--small 4000]
//                [--small-size 4K]
//
// Part 1, one large segment: every run fills a memfd of --size with random bytes (the baseline:
// the client's CPU time in those writes), seals it and hands it over (PutFd), reading the
// daemon's CPU time (schedstat, ns), RSS and read/write byte counters (/proc/PID/io) on either
// side of the hand-over; a 4 KiB memfd is handed over the same way as a control. Then, still
// holding it, a checkpoint round with one export, as warmboot preserve runs it. Its peak RSS
// (VmHWM) over all of that.
// Part 2, a fresh daemon: --small segments of --small-size put by apps of 1000 segments each,
// bytes and memfds alternating; every segment listed (list all: the count, or the error), then a
// round that exports them all. Its peak RSS again.
// Prints one JSON object. DIR must exist; the daemons' sockets, logs and configuration go there.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "bench/daemon_process.h"
#include "bench/fd_limit.h"
#include "bench/random_fill.h"
#include "bench/ready_app.h"
#include "bench/size_arg.h"
#include "client/client.h"

namespace {

using namespace warmboot;
using namespace warmboot::bench;
using nlohmann::json;

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

template <typename T>
T Must(Result<T> r, const std::string& what) {
  if (!r.ok()) Fail(what + ": " + r.status().message());
  return std::move(*r);
}
void Must(const Status& s, const std::string& what) {
  if (!s.ok()) Fail(what + ": " + s.message());
}

std::string Subdir(const std::string& dir, const std::string& name) {
  std::string d = dir + "/" + name;
  if (::mkdir(d.c_str(), 0755) != 0 && errno != EEXIST) Fail("cannot create " + d);
  return d;
}

// A round as warmboot preserve runs it: checkpoint, export every segment (the descriptors
// closed at once), end. `apps`: how many must answer ready.
json Round(const std::string& socket, uint64_t apps) {
  auto admin = Must(client::Client::Connect("bench-admin", socket, 0, /*observer=*/true), "admin");
  const double t0 = Now();
  auto rr = Must(admin.Checkpoint(10000), "checkpoint");
  if (!rr.complete || rr.ready != apps) {
    Fail("the round was not complete: " + std::to_string(rr.ready) + " of " + std::to_string(apps) +
         " apps ready");
  }
  const double t1 = Now();
  for (uint64_t i = 0; i < rr.segments; ++i) {
    auto e = Must(admin.Export(i), "export");
    ::close(e.fd);
  }
  const double t2 = Now();
  Must(admin.EndRound(), "end-round");
  return {{"segments", rr.segments},
          {"bytes", rr.bytes},
          {"checkpoint_s", t1 - t0},
          {"export_s", t2 - t1}};
}

json UsageJson(const ProcessUsage& u) {
  return {{"cpu_ns", u.cpu_ns}, {"rss_kib", u.rss_kib}, {"hwm_kib", u.hwm_kib}};
}

json LargeSegment(const std::string& warmbootd, const std::string& dir, uint64_t size, int runs) {
  const std::string socket = dir + "/api.sock";
  auto d = DaemonProcess::Start({warmbootd, socket, dir, {}});
  auto app = Must(client::Client::Connect("bench-big", socket), "connect");
  json out{{"idle", UsageJson(d->Usage())}, {"runs", json::array()}};
  for (int r = 0; r < runs; ++r) {
    UniqueFd tiny = NewMemfd("tiny");
    FillRandom({tiny.get()}, 4096, 2 * r);
    Seal(tiny.get());
    const ProcessUsage t0 = d->Usage();
    Must(app.PutFd("tiny", tiny.get()), "put tiny");
    const ProcessUsage t1 = d->Usage();

    UniqueFd big = NewMemfd("big");
    const FillCost fill = FillRandom({big.get()}, size, 2 * r + 1);
    Seal(big.get());
    const ProcessUsage u0 = d->Usage();
    const double w0 = Now();
    Must(app.PutFd("big", big.get()), "put big");
    const double w1 = Now();
    const ProcessUsage u1 = d->Usage();
    out["runs"].push_back({{"fill_cpu_s", fill.cpu_s},
                           {"fill_wall_s", fill.wall_s},
                           {"put_wall_s", w1 - w0},
                           {"daemon_cpu_ns", u1.cpu_ns - u0.cpu_ns},
                           {"daemon_rss_before_kib", u0.rss_kib},
                           {"daemon_rss_after_kib", u1.rss_kib},
                           {"daemon_read_bytes", u1.rchar - u0.rchar},
                           {"daemon_write_bytes", u1.wchar - u0.wchar},
                           {"tiny_daemon_cpu_ns", t1.cpu_ns - t0.cpu_ns},
                           {"tiny_rss_growth_kib", int64_t(t1.rss_kib) - int64_t(t0.rss_kib)}});
    if (r + 1 < runs) {
      Must(app.Drop("big").status(), "drop");
      Must(app.Drop("tiny").status(), "drop");
      big = UniqueFd();
      // The gigabyte just freed goes back to the host for a while (bench/run's settle).
      std::this_thread::sleep_for(std::chrono::seconds(2));
    }
  }
  {
    ReadyApp ready(socket, "bench-big");
    out["round"] = Round(socket, 1);
  }
  const ProcessUsage end = d->Usage();
  out["end"] = UsageJson(end);
  out["bytes_held"] = size + 4096;
  d->Stop();
  return out;
}

json SmallSegments(const std::string& warmbootd, const std::string& dir, uint64_t count,
                   uint64_t seg_size) {
  const std::string socket = dir + "/api.sock";
  auto d = DaemonProcess::Start({warmbootd, socket, dir, {}});
  constexpr uint64_t kPerApp = 1000;
  const uint64_t apps = (count + kPerApp - 1) / kPerApp;
  json out{{"idle", UsageJson(d->Usage())},
           {"segments", count},
           {"segment_bytes", seg_size},
           {"apps", apps}};
  std::string bytes(seg_size, '\0');
  const double t0 = Now();
  uint64_t fds = 0;
  for (uint64_t a = 0, i = 0; a < apps; ++a) {
    auto c = Must(client::Client::Connect("bench-small-" + std::to_string(a), socket), "connect");
    for (uint64_t k = 0; k < kPerApp && i < count; ++k, ++i) {
      const std::string name = "seg-" + std::to_string(k);
      if (i % 2 == 0) {
        std::snprintf(bytes.data(), bytes.size(), "%llu", static_cast<unsigned long long>(i));
        Must(c.PutBytes(name, bytes), "put bytes");
      } else {
        UniqueFd m = NewMemfd(name);
        FillRandom({m.get()}, seg_size, i);
        Seal(m.get());
        Must(c.PutFd(name, m.get()), "put fd");
        ++fds;
      }
    }
  }
  out["put_s"] = Now() - t0;
  out["fd_segments"] = fds;
  out["after_puts"] = UsageJson(d->Usage());
  {
    auto admin = Must(client::Client::Connect("bench-admin", socket, 0, true), "admin");
    const double l0 = Now();
    // Recorded, not fatal: a reply over the frame body's limit (64 KiB) closes the connection.
    auto all = admin.List(/*all=*/true);
    out["list_s"] = Now() - l0;
    out["list_all"] = all.ok() ? json(all->size()) : json(all.status().message());
  }
  {
    std::vector<std::unique_ptr<ReadyApp>> ready;
    for (uint64_t a = 0; a < apps; ++a) {
      ready.push_back(std::make_unique<ReadyApp>(socket, "bench-small-" + std::to_string(a)));
    }
    out["round"] = Round(socket, apps);
  }
  out["end"] = UsageJson(d->Usage());
  d->Stop();
  return out;
}

[[noreturn]] void Usage() {
  Fail(
      "usage: api_handover --warmbootd PATH --dir DIR [--size 1G] [--runs 3] [--small 4000] "
      "[--small-size 4K]");
}

}  // namespace

int main(int argc, char** argv) {
  std::string warmbootd, dir;
  uint64_t size = 1ull << 30, small = 4000, small_size = 4096;
  int runs = 3;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) Usage();
    const std::string v = argv[++i];
    if (a == "--warmbootd") {
      warmbootd = v;
    } else if (a == "--dir") {
      dir = v;
    } else if (a == "--size") {
      if (!ParseSize(v, &size) || size == 0) Usage();
    } else if (a == "--runs") {
      runs = std::atoi(v.c_str());
    } else if (a == "--small") {
      small = std::strtoull(v.c_str(), nullptr, 10);
    } else if (a == "--small-size") {
      if (!ParseSize(v, &small_size) || small_size == 0 || small_size > (1 << 20)) Usage();
    } else {
      Usage();
    }
  }
  if (warmbootd.empty() || dir.empty() || runs < 1 || small == 0) Usage();
  // The small part's daemon holds one descriptor per segment, the client up to one per app.
  RaiseFdLimit(small + 1024);
  json out;
  out["large"] = LargeSegment(warmbootd, Subdir(dir, "large"), size, runs);
  out["small"] = SmallSegments(warmbootd, Subdir(dir, "small"), small, small_size);
  out["size"] = size;
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
