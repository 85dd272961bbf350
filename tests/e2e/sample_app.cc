// warmboot-sample-app: the application the end-to-end VM test preserves across warm reboots.
//
//   warmboot-sample-app write STATE_DIR [--random-mib N] [--small-files K] [--text-mib T]
//                             [--blob-mib B] [--seed S]
//   warmboot-sample-app check DIR [--allow-quarantined]
//
// `write` fills STATE_DIR with at least N MiB of random data (files of B MiB under blobs/), K
// small text files of varied sizes under small/, a compressible journal of T MiB, a sparse file,
// an empty file and a symlink, and records every file's size and XXH3-64 in manifest.json.
// Every byte is a function of the seed, the file and the offset, so `check` regenerates the
// expected bytes and compares each file byte for byte (and by hash) with what is in DIR. With
// --allow-quarantined a file that restore put under DIR/.quarantine/files/ (and named in its
// report.json) is reported as quarantined instead of failing the check. Both print one JSON
// document; `check` exits 1 when anything differs, naming the files.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "image/checksum.h"
#include "util/io.h"
#include "util/xoshiro.h"

namespace fs = std::filesystem;
using nlohmann::json;
using warmboot::SplitMix64;
using warmboot::Xoshiro256;

namespace {

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kBlock = 1ull << 20;  // generation block: contents are a function of its index
constexpr const char* kManifest = "manifest.json";

// ---------------------------------------------------------------------------------------------
// Deterministic contents.

uint64_t Mix(uint64_t a, uint64_t b) {
  uint64_t x = a * 0x100000001b3ull ^ b;
  return SplitMix64(x);
}

enum class Kind { kRandom, kText, kSparse };

const char* KindName(Kind k) {
  switch (k) {
    case Kind::kRandom:
      return "random";
    case Kind::kText:
      return "text";
    case Kind::kSparse:
      return "sparse";
  }
  return "?";
}

std::optional<Kind> KindFromName(const std::string& s) {
  if (s == "random") return Kind::kRandom;
  if (s == "text") return Kind::kText;
  if (s == "sparse") return Kind::kSparse;
  return std::nullopt;
}

const char* const kWords[] = {"warm",  "boot",   "kexec",  "pmem",   "state", "chunk",  "seal",
                              "image", "memory", "block",  "online", "raw",   "devdax", "kmem",
                              "zone",  "page",   "verify", "record", "tmpfs", "region"};

// Fills `out` with the bytes of block `index` of a file of this kind and seed. Random blocks
// are incompressible; text blocks are word salad (zstd shrinks them); a sparse file holds data
// only in its first and last blocks (the rest are holes, read back as zeros).
void FillBlock(Kind kind, uint64_t seed, uint64_t index, uint64_t blocks, uint8_t* out, size_t n) {
  Xoshiro256 rng(Mix(seed, index));
  if (kind == Kind::kSparse && index != 0 && index + 1 != blocks) {
    std::memset(out, 0, n);
    return;
  }
  if (kind == Kind::kRandom || kind == Kind::kSparse) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      uint64_t v = rng.Next();
      std::memcpy(out + i, &v, 8);
    }
    if (i < n) {
      uint64_t v = rng.Next();
      std::memcpy(out + i, &v, n - i);
    }
    return;
  }
  size_t i = 0;
  while (i < n) {
    uint64_t v = rng.Next();
    const char* w = kWords[v % (sizeof(kWords) / sizeof(kWords[0]))];
    char buf[48];
    int len = std::snprintf(buf, sizeof buf, "%s %u%c", w, static_cast<unsigned>((v >> 32) % 1000),
                            (v >> 20) % 9 == 0 ? '\n' : ' ');
    size_t take = std::min<size_t>(static_cast<size_t>(len), n - i);
    std::memcpy(out + i, buf, take);
    i += take;
  }
}

// The content of small file `index` (a few lines of text and a random tail, 0 to ~9 KiB).
std::string SmallContent(uint64_t seed, uint64_t index) {
  Xoshiro256 rng(Mix(seed ^ 0x5a5a5a5a, index));
  uint64_t r = rng.Next();
  size_t size = (index % 97 == 0) ? 0 : static_cast<size_t>(r % 9000);
  std::string out;
  out.reserve(size);
  char line[96];
  while (out.size() < size / 2) {
    int len = std::snprintf(line, sizeof line, "record %llu field %llu value %016llx\n",
                            static_cast<unsigned long long>(index),
                            static_cast<unsigned long long>(out.size()),
                            static_cast<unsigned long long>(rng.Next()));
    out.append(line, static_cast<size_t>(len));
  }
  while (out.size() < size) out.push_back(static_cast<char>(rng.Next() & 0xff));
  out.resize(size);
  return out;
}

std::string Hex(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// ---------------------------------------------------------------------------------------------
// Small helpers.

[[noreturn]] void Die(const std::string& what) {
  json j{{"ok", false}, {"error", what}};
  std::cout << j.dump(2) << "\n";
  std::exit(2);
}

void WriteAll(int fd, const uint8_t* p, size_t n, const std::string& path) {
  if (int err = warmboot::WriteAll(fd, p, n))
    Die("cannot write " + path + ": " + std::strerror(err));
}

// Reads up to n bytes; returns how many (fewer only at end of file or on an error).
size_t ReadFull(int fd, uint8_t* p, size_t n) {
  size_t got = 0;
  warmboot::ReadFull(fd, p, n, &got);
  return got;
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// Runs fn(i) for i in [0, n) on one thread per CPU.
void ParallelFor(size_t n, const std::function<void(size_t)>& fn) {
  unsigned threads = std::max(1u, std::min<unsigned>(std::thread::hardware_concurrency(), 8));
  std::atomic<size_t> next{0};
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (size_t i = next++; i < n; i = next++) fn(i);
    });
  }
  for (std::thread& th : pool) th.join();
}

struct FileSpec {
  std::string path;  // relative to the state directory
  Kind kind = Kind::kRandom;
  uint64_t seed = 0;
  uint64_t size = 0;
};

// Writes a generated file (holes left unwritten for sparse files); returns its XXH3-64.
uint64_t WriteGenerated(const fs::path& root, const FileSpec& f) {
  fs::path p = root / f.path;
  int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) Die("cannot create " + p.string() + ": " + std::strerror(errno));
  std::vector<uint8_t> buf(kBlock);
  warmboot::Hasher64 h;
  uint64_t blocks = (f.size + kBlock - 1) / kBlock;
  for (uint64_t b = 0; b < blocks; ++b) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(kBlock, f.size - b * kBlock));
    FillBlock(f.kind, f.seed, b, blocks, buf.data(), n);
    h.Update(buf.data(), n);
    if (f.kind == Kind::kSparse && b != 0 && b + 1 != blocks) continue;
    if (::lseek(fd, static_cast<off_t>(b * kBlock), SEEK_SET) < 0) Die("cannot seek " + p.string());
    WriteAll(fd, buf.data(), n, p.string());
  }
  if (::ftruncate(fd, static_cast<off_t>(f.size)) != 0) Die("cannot size " + p.string());
  ::close(fd);
  return h.Digest();
}

std::string SmallPath(uint64_t i) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "small/d%03llu/f%06llu.txt",
                static_cast<unsigned long long>(i / 100), static_cast<unsigned long long>(i));
  return buf;
}

// ---------------------------------------------------------------------------------------------
// write

int CmdWrite(const std::vector<std::string>& args) {
  std::string dir;
  uint64_t random_mib = 256, small_files = 2000, text_mib = 4, blob_mib = 16, seed = 1;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> uint64_t {
      if (i + 1 >= args.size()) Die(a + " needs a value");
      return std::stoull(args[++i]);
    };
    if (a == "--random-mib")
      random_mib = value();
    else if (a == "--small-files")
      small_files = value();
    else if (a == "--text-mib")
      text_mib = value();
    else if (a == "--blob-mib")
      blob_mib = std::max<uint64_t>(1, value());
    else if (a == "--seed")
      seed = value();
    else if (!a.empty() && a[0] == '-')
      Die("unknown option " + a);
    else if (dir.empty())
      dir = a;
    else
      Die("unexpected argument " + a);
  }
  if (dir.empty()) Die("usage: write STATE_DIR [--random-mib N] [--small-files K] ...");
  auto start = std::chrono::steady_clock::now();
  fs::path root(dir);
  std::error_code ec;
  fs::create_directories(root / "blobs", ec);
  fs::create_directories(root / "small", ec);
  fs::create_directories(root / "journal", ec);
  if (ec) Die("cannot create directories under " + dir + ": " + ec.message());

  std::vector<FileSpec> big;
  uint64_t left = random_mib * kMiB;
  for (uint64_t i = 0; left > 0; ++i) {
    char name[48];
    std::snprintf(name, sizeof name, "blobs/blob-%04llu.bin", static_cast<unsigned long long>(i));
    uint64_t size = std::min(left, blob_mib * kMiB);
    // An odd tail on the last blob, so not every file is a whole number of chunks.
    big.push_back({name, Kind::kRandom, Mix(seed, 1000 + i), size});
    left -= size;
  }
  if (text_mib > 0) {
    big.push_back({"journal/journal.txt", Kind::kText, Mix(seed, 7), text_mib * kMiB + 12345});
  }
  big.push_back({"journal/sparse.bin", Kind::kSparse, Mix(seed, 8), 8 * kMiB + 4096});
  big.push_back({"journal/empty", Kind::kRandom, Mix(seed, 9), 0});

  std::vector<uint64_t> hashes(big.size());
  ParallelFor(big.size(), [&](size_t i) { hashes[i] = WriteGenerated(root, big[i]); });

  json files = json::array();
  uint64_t bytes = 0;
  for (size_t i = 0; i < big.size(); ++i) {
    files.push_back({{"path", big[i].path},
                     {"kind", KindName(big[i].kind)},
                     {"seed", big[i].seed},
                     {"size", big[i].size},
                     {"xxh3", Hex(hashes[i])}});
    bytes += big[i].size;
  }

  std::vector<std::string> small_hashes(small_files);
  std::vector<uint64_t> small_sizes(small_files);
  for (uint64_t d = 0; d * 100 < small_files; ++d) {
    fs::create_directories(root / fs::path(SmallPath(d * 100)).parent_path(), ec);
    if (ec) Die("cannot create a directory under " + dir + ": " + ec.message());
  }
  ParallelFor(small_files, [&](size_t i) {
    std::string content = SmallContent(seed, i);
    fs::path p = root / SmallPath(i);
    int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) Die("cannot create " + p.string() + ": " + std::strerror(errno));
    WriteAll(fd, reinterpret_cast<const uint8_t*>(content.data()), content.size(), p.string());
    ::close(fd);
    small_hashes[i] = Hex(warmboot::Hash64(content.data(), content.size()));
    small_sizes[i] = content.size();
  });
  for (uint64_t i = 0; i < small_files; ++i) bytes += small_sizes[i];

  fs::remove(root / "current", ec);
  fs::create_symlink("blobs/blob-0000.bin", root / "current", ec);
  if (ec) Die("cannot create the symlink " + (root / "current").string() + ": " + ec.message());

  json manifest{
      {"app", "warmboot-e2e-sample"},
      {"version", 1},
      {"seed", seed},
      {"files", files},
      {"small_files", {{"count", small_files}, {"sizes", small_sizes}, {"xxh3", small_hashes}}},
      {"symlinks", json::array({{{"path", "current"}, {"target", "blobs/blob-0000.bin"}}})},
      {"total_bytes", bytes}};
  std::ofstream(root / kManifest) << manifest.dump(1) << "\n";

  json out{{"ok", true},
           {"state_dir", dir},
           {"seed", seed},
           {"files", big.size() + small_files},
           {"random_bytes", random_mib * kMiB},
           {"total_bytes", bytes},
           {"seconds", Seconds(start)}};
  std::cout << out.dump(2) << "\n";
  return 0;
}

// ---------------------------------------------------------------------------------------------
// check

struct Verdict {
  bool ok = true;
  std::string reason;
  uint64_t differing_bytes = 0;
};

// Compares the file at `p` with the generated bytes of `f`, block by block.
Verdict CompareGenerated(const fs::path& p, const FileSpec& f, const std::string& want_hash) {
  Verdict v;
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {false, std::string("cannot open: ") + std::strerror(errno), 0};
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return {false, "not a regular file", 0};
  }
  if (static_cast<uint64_t>(st.st_size) != f.size) {
    ::close(fd);
    return {false, "size " + std::to_string(st.st_size) + ", expected " + std::to_string(f.size),
            0};
  }
  std::vector<uint8_t> want(kBlock), got(kBlock);
  warmboot::Hasher64 h;
  uint64_t blocks = (f.size + kBlock - 1) / kBlock;
  int64_t first_diff = -1;
  for (uint64_t b = 0; b < blocks; ++b) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(kBlock, f.size - b * kBlock));
    FillBlock(f.kind, f.seed, b, blocks, want.data(), n);
    size_t r = ReadFull(fd, got.data(), n);
    if (r != n) {
      ::close(fd);
      return {false, "short read at byte " + std::to_string(b * kBlock + r), 0};
    }
    h.Update(got.data(), n);
    if (std::memcmp(want.data(), got.data(), n) != 0) {
      for (size_t i = 0; i < n; ++i) {
        if (want[i] != got[i]) {
          if (first_diff < 0) first_diff = static_cast<int64_t>(b * kBlock + i);
          ++v.differing_bytes;
        }
      }
    }
  }
  ::close(fd);
  std::string hash = Hex(h.Digest());
  if (first_diff >= 0) {
    v.ok = false;
    v.reason = std::to_string(v.differing_bytes) + " byte(s) differ, the first at byte " +
               std::to_string(first_diff);
  } else if (hash != want_hash) {
    v.ok = false;
    v.reason = "XXH3 " + hash + " differs from the manifest's " + want_hash;
  }
  return v;
}

Verdict CompareSmall(const fs::path& p, const std::string& want, const std::string& want_hash) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return {false, "cannot open", 0};
  std::string got((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (got.size() != want.size()) {
    return {false,
            "size " + std::to_string(got.size()) + ", expected " + std::to_string(want.size()), 0};
  }
  if (got != want) {
    uint64_t diff = 0;
    for (size_t i = 0; i < got.size(); ++i) diff += got[i] != want[i];
    return {false, std::to_string(diff) + " byte(s) differ", diff};
  }
  std::string hash = Hex(warmboot::Hash64(got.data(), got.size()));
  if (hash != want_hash) return {false, "XXH3 " + hash + " differs from the manifest", 0};
  return {};
}

int CmdCheck(const std::vector<std::string>& args) {
  std::string dir;
  bool allow_quarantined = false;
  for (const std::string& a : args) {
    if (a == "--allow-quarantined")
      allow_quarantined = true;
    else if (!a.empty() && a[0] == '-')
      Die("unknown option " + a);
    else if (dir.empty())
      dir = a;
    else
      Die("unexpected argument " + a);
  }
  if (dir.empty()) Die("usage: check DIR [--allow-quarantined]");
  auto start = std::chrono::steady_clock::now();
  fs::path root(dir);
  std::ifstream min(root / kManifest);
  if (!min) Die("no " + (root / kManifest).string());
  json manifest = json::parse(min, nullptr, false);
  if (manifest.is_discarded() || !manifest.contains("files")) {
    Die((root / kManifest).string() + " is not a valid manifest");
  }

  // Paths the restore quarantined (its report names each damaged segment's path).
  std::set<std::string> reported;
  {
    std::ifstream rin(root / ".quarantine" / "report.json");
    if (rin) {
      json report = json::parse(rin, nullptr, false);
      if (!report.is_discarded()) {
        std::function<void(const json&)> scan = [&](const json& j) {
          if (j.is_object()) {
            if (j.contains("path") && j["path"].is_string()) reported.insert(j["path"]);
            for (const auto& [k, v] : j.items()) scan(v);
          } else if (j.is_array()) {
            for (const auto& v : j) scan(v);
          }
        };
        scan(report);
      }
    }
  }

  struct Item {
    std::string path;
    std::function<Verdict(const fs::path&)> compare;
    uint64_t size;
  };
  std::vector<Item> items;
  for (const json& f : manifest["files"]) {
    auto kind = KindFromName(f.value("kind", ""));
    if (!kind) Die("manifest: unknown kind for " + f.value("path", "?"));
    FileSpec spec{f["path"], *kind, f["seed"], f["size"]};
    std::string hash = f["xxh3"];
    items.push_back({spec.path,
                     [spec, hash](const fs::path& p) { return CompareGenerated(p, spec, hash); },
                     spec.size});
  }
  uint64_t seed = manifest["seed"];
  const json& small = manifest["small_files"];
  uint64_t small_count = small["count"];
  for (uint64_t i = 0; i < small_count; ++i) {
    std::string hash = small["xxh3"][i];
    items.push_back({SmallPath(i),
                     [seed, i, hash](const fs::path& p) {
                       return CompareSmall(p, SmallContent(seed, i), hash);
                     },
                     small["sizes"][i]});
  }

  std::vector<Verdict> verdicts(items.size());
  std::vector<std::optional<Verdict>> quarantine(items.size());
  ParallelFor(items.size(), [&](size_t i) {
    verdicts[i] = items[i].compare(root / items[i].path);
    if (!verdicts[i].ok) {
      fs::path q = root / ".quarantine" / "files" / items[i].path;
      std::error_code ec;
      if (fs::exists(q, ec)) quarantine[i] = items[i].compare(q);
    }
  });

  json mismatched = json::array(), quarantined = json::array(), unexpected = json::array();
  uint64_t checked = 0, bytes = 0;
  std::set<std::string> expected{kManifest};
  for (size_t i = 0; i < items.size(); ++i) {
    expected.insert(items[i].path);
    const Verdict& v = verdicts[i];
    if (v.ok) {
      ++checked;
      bytes += items[i].size;
      continue;
    }
    bool missing = !fs::exists(root / items[i].path);
    if (missing && quarantine[i]) {
      json q{{"path", items[i].path},
             {"named_in_report", reported.count(items[i].path) > 0},
             {"intact", quarantine[i]->ok},
             {"differing_bytes", quarantine[i]->differing_bytes},
             {"detail", quarantine[i]->ok ? "identical" : quarantine[i]->reason}};
      quarantined.push_back(q);
      continue;
    }
    mismatched.push_back({{"path", items[i].path}, {"reason", v.reason}});
  }
  for (const json& l : manifest["symlinks"]) {
    std::string path = l["path"], target = l["target"];
    expected.insert(path);
    std::error_code ec;
    fs::path got = fs::read_symlink(root / path, ec);
    if (ec) {
      mismatched.push_back({{"path", path}, {"reason", "not a symlink: " + ec.message()}});
    } else if (got.string() != target) {
      mismatched.push_back({{"path", path}, {"reason", "points to " + got.string()}});
    } else {
      ++checked;
    }
  }
  // Files that should not be there (the quarantine is restore's, not the application's).
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    std::string rel = fs::relative(it->path(), root).string();
    if (rel == ".quarantine") {
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_directory() && !it->is_symlink()) continue;
    if (!expected.count(rel)) unexpected.push_back(rel);
  }

  bool quarantine_ok = true;
  for (const json& q : quarantined) quarantine_ok = quarantine_ok && q["named_in_report"];
  bool ok = mismatched.empty() && unexpected.empty() &&
            (quarantined.empty() || (allow_quarantined && quarantine_ok));
  json out{{"ok", ok},
           {"dir", dir},
           {"seed", seed},
           {"files_expected", items.size() + manifest["symlinks"].size()},
           {"files_checked", checked},
           {"bytes_checked", bytes},
           {"mismatched", mismatched},
           {"quarantined", quarantined},
           {"unexpected", unexpected},
           {"allow_quarantined", allow_quarantined},
           {"seconds", Seconds(start)}};
  std::cout << out.dump(2) << "\n";
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::cerr << "usage: warmboot-sample-app write STATE_DIR [--random-mib N] [--small-files K]\n"
                 "                                [--text-mib T] [--blob-mib B] [--seed S]\n"
                 "       warmboot-sample-app check DIR [--allow-quarantined]\n";
    return 2;
  }
  std::string cmd = args.front();
  args.erase(args.begin());
  try {
    if (cmd == "write") return CmdWrite(args);
    if (cmd == "check") return CmdCheck(args);
  } catch (const std::exception& e) {
    Die(std::string("unexpected error: ") + e.what());
  }
  Die("unknown command " + cmd);
}
