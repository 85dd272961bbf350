// make_state: generates a benchmark state tree quickly and deterministically.
//
//   make_state DIR --size S [--kind random|text] [--large N] [--small N] [--small-size B]
//              [--seed N] [--threads N]
//
// Layout (DIR is created; it must not exist yet):
//   DIR/large/blob-NN              N large files sharing S bytes (the last one takes the rest)
//   DIR/small/dNN/rec-NNNNN        the small files, 100 per directory
// --kind random: xoshiro256** output, incompressible.
// --kind text:   log-like lines (timestamps, levels, components, request paths, ids, hex
//                request ids) in the large files and JSON-lines records in the small ones;
//                compressible roughly like real service logs, never runs of zeros.
// Every file is seeded from (seed, file index), so the tree is the same whatever --threads.
// Prints a one-line JSON summary.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench/size_arg.h"
#include "util/io.h"
#include "util/xoshiro.h"

using warmboot::SplitMix64;
using warmboot::Xoshiro256;

namespace {

constexpr size_t kBufferSize = 1 << 20;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "make_state: %s\n", what.c_str());
  std::exit(1);
}

// Appends text to a buffer with no bounds checks: callers leave kMaxLine bytes of headroom.
class Out {
 public:
  explicit Out(char* p) : p_(p) {}
  char* pos() const { return p_; }
  void Str(std::string_view s) {
    std::memcpy(p_, s.data(), s.size());
    p_ += s.size();
  }
  void Ch(char c) { *p_++ = c; }
  void U64(uint64_t v) {
    char tmp[20];
    int n = 0;
    do {
      tmp[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    while (n > 0) *p_++ = tmp[--n];
  }
  void Fixed(uint64_t v, int width) {
    for (int i = width - 1; i >= 0; --i) {
      p_[i] = static_cast<char>('0' + v % 10);
      v /= 10;
    }
    p_ += width;
  }
  void Hex(uint64_t v, int digits) {
    static constexpr char kDigits[] = "0123456789abcdef";
    for (int i = digits - 1; i >= 0; --i) {
      p_[i] = kDigits[v & 15];
      v >>= 4;
    }
    p_ += digits;
  }

 private:
  char* p_;
};

constexpr size_t kMaxLine = 512;

template <size_t N>
std::string_view Pick(Xoshiro256& rng, const std::string_view (&list)[N]) {
  return list[rng.Below(N)];
}

constexpr std::string_view kComponents[] = {
    "http",    "db-pool",  "scheduler", "cache",   "auth",      "ingest", "compactor",
    "billing", "notifier", "search",    "gateway", "replica",   "wal",    "metrics",
    "session", "upload",   "thumbnail", "mailer",  "inventory", "orders"};
constexpr std::string_view kResources[] = {"users",     "orders",   "invoices", "products",
                                           "carts",     "sessions", "payments", "reviews",
                                           "shipments", "tokens"};
constexpr std::string_view kMethods[] = {"GET", "GET", "GET", "POST", "PUT", "DELETE"};
constexpr std::string_view kHosts[] = {"db-primary.internal", "db-replica-1.internal",
                                       "cache-0.internal", "queue.internal", "search-2.internal"};
constexpr std::string_view kEvents[] = {"created", "updated", "deleted", "viewed", "exported"};
constexpr uint32_t kStatus[] = {200, 200, 200, 200, 200, 201, 204, 304, 400, 404, 500};

// Service-log lines: "2024-03-14T09:26:53.123456Z INFO  [cache-3] cache miss key=..." etc.
class LogGenerator {
 public:
  explicit LogGenerator(uint64_t seed) : rng_(seed) {}

  void Line(Out& o) {
    Tick();
    o.Str("2024-03-");
    o.Fixed(day_, 2);
    o.Ch('T');
    o.Fixed(us_ / 3600000000ull, 2);
    o.Ch(':');
    o.Fixed(us_ / 60000000ull % 60, 2);
    o.Ch(':');
    o.Fixed(us_ / 1000000ull % 60, 2);
    o.Ch('.');
    o.Fixed(us_ % 1000000ull, 6);
    o.Str("Z ");
    uint32_t lv = rng_.Below(100);
    o.Str(lv < 70 ? "INFO  " : lv < 90 ? "DEBUG " : lv < 98 ? "WARN  " : "ERROR ");
    o.Ch('[');
    o.Str(Pick(rng_, kComponents));
    o.Ch('-');
    o.U64(rng_.Below(8));
    o.Str("] ");
    switch (rng_.Below(8)) {
      case 0:
      case 1:
      case 2: {
        o.Str(Pick(rng_, kMethods));
        o.Str(" /api/v1/");
        o.Str(Pick(rng_, kResources));
        o.Ch('/');
        o.U64(rng_.Below(200000));
        o.Str(" status=");
        o.U64(kStatus[rng_.Below(std::size(kStatus))]);
        o.Str(" latency_ms=");
        o.U64(1 + rng_.Below(40) + (rng_.Below(20) == 0 ? rng_.Below(2000) : 0));
        o.Str(" bytes=");
        o.U64(rng_.Below(64000));
        o.Str(" req=");
        o.Hex(rng_.Next(), 16);
        break;
      }
      case 3:
        o.Str("user ");
        o.U64(rng_.Below(1000000));
        o.Str(" logged in from 10.");
        o.U64(rng_.Below(4));
        o.Ch('.');
        o.U64(rng_.Below(256));
        o.Ch('.');
        o.U64(rng_.Below(256));
        o.Str(" session=");
        o.Hex(rng_.Next(), 16);
        break;
      case 4:
        o.Str(rng_.Below(4) == 0 ? "cache miss key=" : "cache hit key=");
        o.Str(Pick(rng_, kResources));
        o.Ch(':');
        o.U64(rng_.Below(200000));
        o.Str(" ttl=");
        o.U64(60 * (1 + rng_.Below(60)));
        o.Ch('s');
        break;
      case 5:
        o.Str("flushed ");
        o.U64(rng_.Below(4096));
        o.Str(" dirty pages to segment ");
        o.U64(segment_ += rng_.Below(2));
        o.Str(" in ");
        o.U64(rng_.Below(90));
        o.Str(" ms");
        break;
      case 6:
        o.Str("retrying connection to ");
        o.Str(Pick(rng_, kHosts));
        o.Str(":5432 attempt ");
        o.U64(1 + rng_.Below(5));
        o.Str("/5: connection refused");
        break;
      default:
        o.Str("checkpoint ");
        o.U64(++checkpoint_);
        o.Str(" complete: ");
        o.U64(rng_.Below(100000));
        o.Str(" records, ");
        o.U64(rng_.Below(100000000));
        o.Str(" bytes, crc=");
        o.Hex(rng_.Next(), 8);
        break;
    }
    o.Ch('\n');
  }

  // A JSON-lines record, as an application's small state files might hold.
  void Record(Out& o) {
    Tick();
    o.Str("{\"id\":");
    o.U64(++record_id_);
    o.Str(",\"kind\":\"");
    o.Str(Pick(rng_, kResources));
    o.Str("\",\"event\":\"");
    o.Str(Pick(rng_, kEvents));
    o.Str("\",\"owner\":\"user_");
    o.U64(rng_.Below(100000));
    o.Str("\",\"ts\":");
    o.U64(1710374400000000ull + us_);
    o.Str(",\"version\":");
    o.U64(rng_.Below(40));
    o.Str(",\"amount_cents\":");
    o.U64(rng_.Below(1000000));
    o.Str(",\"etag\":\"");
    o.Hex(rng_.Next(), 12);
    o.Str("\"}\n");
  }

 private:
  void Tick() {
    us_ += rng_.Below(3000);
    if (us_ >= 86400000000ull) {
      us_ -= 86400000000ull;
      day_ = day_ % 28 + 1;
    }
  }

  Xoshiro256 rng_;
  uint64_t us_ = 9 * 3600000000ull;
  uint64_t day_ = 14;
  uint64_t segment_ = 1000, checkpoint_ = 0, record_id_ = 0;
};

struct Job {
  std::string path;
  uint64_t size;
  uint64_t seed;
  bool record;  // text kind: JSON records rather than log lines
};

void WriteAll(int fd, const char* data, size_t n, const std::string& path) {
  if (int err = warmboot::WriteAll(fd, data, n))
    Die("cannot write " + path + ": " + std::strerror(err));
}

void MakeFile(const Job& job, bool text, std::vector<char>& buf) {
  int fd = ::open(job.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) Die("cannot create " + job.path + ": " + std::strerror(errno));
  uint64_t left = job.size;
  if (!text) {
    Xoshiro256 rng(job.seed);
    auto* words = reinterpret_cast<uint64_t*>(buf.data());
    while (left > 0) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(left, kBufferSize));
      for (size_t i = 0; i < (n + 7) / 8; ++i) words[i] = rng.Next();
      WriteAll(fd, buf.data(), n, job.path);
      left -= n;
    }
  } else {
    LogGenerator gen(job.seed);
    size_t have = 0;  // bytes carried over from the previous buffer
    while (left > 0) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(left, kBufferSize));
      Out o(buf.data() + have);
      while (static_cast<size_t>(o.pos() - buf.data()) < want) {
        if (job.record) {
          gen.Record(o);
        } else {
          gen.Line(o);
        }
      }
      size_t filled = static_cast<size_t>(o.pos() - buf.data());
      WriteAll(fd, buf.data(), want, job.path);
      have = filled - want;
      std::memmove(buf.data(), buf.data() + want, have);
      left -= want;
    }
  }
  if (::close(fd) != 0) Die("cannot close " + job.path + ": " + std::strerror(errno));
}

void MakeDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) != 0) Die("cannot create " + path + ": " + std::strerror(errno));
}

std::string Numbered(const char* prefix, uint64_t n, int width) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s%0*llu", prefix, width, static_cast<unsigned long long>(n));
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir, kind = "random";
  uint64_t size = 0, large = 8, small = 2000, small_size = 4096, seed = 1;
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Die(a + " needs a value");
      return argv[++i];
    };
    auto size_value = [&]() {
      uint64_t v = 0;
      std::string t = value();
      if (!warmboot::bench::ParseSize(t, &v)) Die("bad size for " + a + ": " + t);
      return v;
    };
    if (a == "--size")
      size = size_value();
    else if (a == "--kind")
      kind = value();
    else if (a == "--large")
      large = size_value();
    else if (a == "--small")
      small = size_value();
    else if (a == "--small-size")
      small_size = size_value();
    else if (a == "--seed")
      seed = size_value();
    else if (a == "--threads")
      threads = static_cast<unsigned>(std::max<uint64_t>(1, size_value()));
    else if (dir.empty() && !a.starts_with("-"))
      dir = a;
    else
      Die("usage: make_state DIR --size S [--kind random|text] [--large N] [--small N] "
          "[--small-size B] [--seed N] [--threads N]");
  }
  if (dir.empty() || size == 0) Die("usage: make_state DIR --size S [--kind random|text] ...");
  if (kind != "random" && kind != "text") Die("--kind is random or text, not " + kind);
  if (large == 0) Die("--large must be at least 1");
  const bool text = kind == "text";
  auto start = std::chrono::steady_clock::now();

  std::vector<Job> jobs;
  MakeDir(dir);
  MakeDir(dir + "/large");
  uint64_t per = size / large;
  for (uint64_t i = 0; i < large; ++i) {
    uint64_t sz = i + 1 == large ? size - per * (large - 1) : per;
    jobs.push_back({dir + "/large/" + Numbered("blob-", i, 2), sz, 0, false});
  }
  if (small > 0) MakeDir(dir + "/small");
  for (uint64_t i = 0; i < small; ++i) {
    std::string sub = dir + "/small/" + Numbered("d", i / 100, 2);
    if (i % 100 == 0) MakeDir(sub);
    jobs.push_back({sub + "/" + Numbered("rec-", i, 5), small_size, 0, true});
  }
  for (size_t i = 0; i < jobs.size(); ++i) {
    uint64_t x = seed * 0x100000001b3ull + i;
    jobs[i].seed = SplitMix64(x);
  }

  // Large files first (they are listed first), so the threads finish together.
  std::atomic<size_t> next{0};
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      std::vector<char> buf(kBufferSize + kMaxLine);
      for (size_t i; (i = next.fetch_add(1)) < jobs.size();) MakeFile(jobs[i], text, buf);
    });
  }
  for (auto& t : pool) t.join();

  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "{\"dir\": \"%s\", \"kind\": \"%s\", \"seed\": %llu, \"large_files\": %llu, "
      "\"large_bytes\": %llu, \"small_files\": %llu, \"small_file_bytes\": %llu, "
      "\"total_files\": %llu, \"total_bytes\": %llu, \"seconds\": %.3f}\n",
      dir.c_str(), kind.c_str(), static_cast<unsigned long long>(seed),
      static_cast<unsigned long long>(large), static_cast<unsigned long long>(size),
      static_cast<unsigned long long>(small), static_cast<unsigned long long>(small_size),
      static_cast<unsigned long long>(large + small),
      static_cast<unsigned long long>(size + small * small_size), seconds);
  return 0;
}
