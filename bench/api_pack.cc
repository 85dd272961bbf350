// api_pack: packing segments handed to warmbootd as memfds, as warmboot preserve does, against
// packing the same bytes from files in a tmpfs directory, as warmboot pack does; for bench/api
// (see bench/README.md).
//
//   api_pack --warmbootd PATH --dir DIR [--size 1G] [--segments 8] [--runs 3]
//            [--compress none|zstd|auto] [--threads N]
//
// An app hands --segments sealed memfds holding --size random bytes in all to a warmbootd it
// started, and answers every round ready; the same bytes are written to files under
// DIR/files/.warmboot-api/UID/APP/ (the tree preserve records the segments under). Every run
// packs both into DIR/image, a file pre-allocated on tmpfs and written in place, in alternating
// order:
//   memfd: cli::RunCheckpointRound (preserve's own: checkpoint, export every segment as an image
//          entry read from its descriptor), PlanPack of an empty state directory with those
//          entries, PackImage; the round ends when its connection is dropped, untimed.
//   files: PlanPack of DIR/files, PackImage.
// Timed with the monotonic clock around those calls, after one untimed pack that writes the
// image's pages for the first time. The first memfd image is verified. Prints
// one JSON object: every run's seconds on each side (the memfd side also without the round).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "bench/daemon_process.h"
#include "bench/random_fill.h"
#include "bench/ready_app.h"
#include "bench/size_arg.h"
#include "cli/checkpoint_round.h"
#include "client/client.h"
#include "image/image.h"
#include "media/media.h"

namespace {

using namespace warmboot;
using namespace warmboot::bench;
using nlohmann::json;

constexpr const char* kApp = "bench-pack";

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void MakeDir(const std::string& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) != 0) Fail("cannot create " + path + ": " + std::strerror(errno));
}

std::unique_ptr<Media> OpenImage(const std::string& path) {
  FileMediaOptions o;
  o.mode = OpenMode::kCreate;  // as warmboot pack opens it: an existing file is written in place
  auto m = OpenFileMedia(path, o);
  if (!m.ok()) Fail("cannot open " + path + ": " + m.status().message());
  return std::move(*m);
}

PackReport Pack(const std::string& state_dir, const std::vector<ExtraEntry>& extra,
                const std::string& image, const PackOptions& options) {
  auto media = OpenImage(image);
  auto plan = PlanPack(state_dir, options, extra);
  if (!plan.ok()) Fail("plan: " + plan.status().message());
  auto report = PackImage(*plan, *media, options);
  if (!report.ok()) Fail("pack: " + report.status().message());
  return *report;
}

void Check(const PackReport& r, uint64_t size, uint64_t segments, const char* side) {
  if (r.raw_bytes != size || r.files != segments) {
    Fail(std::string(side) + ": packed " + std::to_string(r.files) + " files of " +
         std::to_string(r.raw_bytes) + " bytes, expected " + std::to_string(segments) + " of " +
         std::to_string(size));
  }
}

[[noreturn]] void Usage() {
  Fail(
      "usage: api_pack --warmbootd PATH --dir DIR [--size 1G] [--segments 8] [--runs 3] "
      "[--compress none|zstd|auto] [--threads N]");
}

}  // namespace

int main(int argc, char** argv) {
  std::string warmbootd, dir, compress = "none";
  uint64_t size = 1ull << 30, segments = 8;
  int runs = 3;
  unsigned threads = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) Usage();
    const std::string v = argv[++i];
    if (a == "--warmbootd") {
      warmbootd = v;
    } else if (a == "--dir") {
      dir = v;
    } else if (a == "--size") {
      if (!ParseSize(v, &size)) Usage();
    } else if (a == "--segments") {
      segments = std::strtoull(v.c_str(), nullptr, 10);
    } else if (a == "--runs") {
      runs = std::atoi(v.c_str());
    } else if (a == "--compress") {
      compress = v;
    } else if (a == "--threads") {
      threads = static_cast<unsigned>(std::atoi(v.c_str()));
    } else {
      Usage();
    }
  }
  if (warmbootd.empty() || dir.empty() || runs < 1 || segments == 0 || size < segments) Usage();
  PackOptions options;
  options.threads = threads;
  auto policy = ParseCompression(compress);
  if (!policy.ok()) Fail(policy.status().message());
  options.compression = *policy;

  const std::string socket = dir + "/api.sock";
  auto daemon = DaemonProcess::Start({warmbootd, socket, dir, {}});
  auto app = client::Client::Connect(kApp, socket);
  if (!app.ok()) Fail("connect: " + app.status().message());

  // The same bytes twice: handed over as memfds, and as files in the tree preserve records them
  // under.
  const std::string empty = dir + "/empty", files = dir + "/files";
  const std::string app_dir = files + "/.warmboot-api/" + std::to_string(app->uid()) + "/" + kApp;
  MakeDir(empty, 0755);
  MakeDir(files, 0755);
  MakeDir(files + "/.warmboot-api", 0755);
  MakeDir(files + "/.warmboot-api/" + std::to_string(app->uid()), 0700);
  MakeDir(app_dir, 0700);
  for (uint64_t s = 0; s < segments; ++s) {
    char name[32];
    std::snprintf(name, sizeof name, "seg-%04llu", static_cast<unsigned long long>(s));
    const uint64_t bytes = size / segments + (s + 1 == segments ? size % segments : 0);
    UniqueFd memfd = NewMemfd(name);
    UniqueFd file(
        ::open((app_dir + "/" + name).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!file.valid()) Fail("cannot create " + app_dir + "/" + name);
    FillRandom({memfd.get(), file.get()}, bytes, s);
    Seal(memfd.get());
    if (Status st = app->PutFd(name, memfd.get()); !st.ok()) Fail("put: " + st.message());
  }
  ReadyApp ready(socket, kApp);

  // Room for every chunk stored raw, tables and names (bench/run's sizing).
  const std::string image = dir + "/image";
  {
    UniqueFd f(::open(image.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!f.valid() || ::posix_fallocate(f.get(), 0, size + size / 256 + (64 << 20)) != 0) {
      Fail("cannot pre-allocate " + image);
    }
  }

  // Untimed, once: the first write into the freshly allocated image runs several times slower
  // on this VM (its pages are faulted in on the host), whichever side comes first.
  Check(Pack(files, {}, image, options), size, segments, "files");

  json memfd_runs = json::array(), pack_only = json::array(), file_runs = json::array(),
       daemon_cpu = json::array();
  for (int r = 0; r < runs; ++r) {
    for (int side = 0; side < 2; ++side) {
      if ((side == 0) == (r % 2 == 0)) {  // memfd first in even runs
        const ProcessUsage u0 = daemon->Usage();
        double t0 = Now();
        auto round = cli::RunCheckpointRound(socket, 10000);
        // The previous run's round ends when the daemon sees its connection close; until then a
        // new one is busy. Wait for that untimed.
        while (!round.ok() && round.status().code() == Code::kBusy) {
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
          t0 = Now();
          round = cli::RunCheckpointRound(socket, 10000);
        }
        if (!round.ok()) Fail("round: " + round.status().message());
        if (!round->complete) Fail("the round was not complete");
        const double t1 = Now();
        PackReport rep = Pack(empty, round->entries, image, options);
        const double t2 = Now();
        round->keep.reset();
        daemon_cpu.push_back(daemon->Usage().cpu_ns - u0.cpu_ns);
        Check(rep, size, segments, "memfd");
        memfd_runs.push_back(t2 - t0);
        pack_only.push_back(t2 - t1);
        if (r == 0) {
          auto media = OpenImage(image);
          auto v = VerifyImage(*media, {});
          if (!v.ok() || v->partial() || v->bytes_verified != size) {
            Fail("the image packed from memfds does not verify");
          }
        }
      } else {
        const double t0 = Now();
        PackReport rep = Pack(files, {}, image, options);
        file_runs.push_back(Now() - t0);
        Check(rep, size, segments, "files");
      }
    }
  }
  json out{{"size", size},          {"segments", segments},
           {"compress", compress},  {"threads", EffectiveThreads(threads)},
           {"memfd_s", memfd_runs}, {"memfd_pack_only_s", pack_only},
           {"files_s", file_runs},  {"daemon_cpu_ns", daemon_cpu}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
