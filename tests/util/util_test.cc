// util: the plumbing every layer shares.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "util/bytes.h"
#include "util/deferred_signals.h"
#include "util/fd_limit.h"
#include "util/host_info.h"
#include "util/io.h"
#include "util/parallel_for.h"
#include "util/printable.h"
#include "util/read_file.h"
#include "util/strings.h"
#include "util/time_text.h"
#include "util/uuid.h"
#include "util/xoshiro.h"

namespace warmboot {
namespace {

TEST(BytesTest, HumanAndExact) {
  EXPECT_EQ(HumanBytes(0), "0 B");
  EXPECT_EQ(HumanBytes(1023), "1023 B");
  EXPECT_EQ(HumanBytes(1536), "1.5 KiB");
  EXPECT_EQ(HumanBytes(528ull << 20), "528.0 MiB");
  EXPECT_EQ(HumanBytes(3ull << 30), "3.00 GiB");
  EXPECT_EQ(ExactBytes(1), "1 bytes");
  EXPECT_EQ(ExactBytes(528ull << 20), "553648128 bytes (528.0 MiB)");
  EXPECT_EQ(Rate(1 << 20, 0), "-");
  EXPECT_EQ(Rate(4 << 20, 2), "2.0 MiB/s");
}

TEST(StringsTest, Trim) {
  EXPECT_EQ(Trim(""), "");
  EXPECT_EQ(Trim(" \t\r\n"), "");
  EXPECT_EQ(Trim("  a b \n"), "a b");
  EXPECT_EQ(Trim("online_movable\n"), "online_movable");
}

TEST(PrintableTest, NamesCannotDriveTheTerminal) {
  EXPECT_EQ(Printable("app/db/table-é.bin"), "app/db/table-é.bin");
  EXPECT_EQ(Printable("a\x1b[2Jb"), "a\\x1b[2Jb");  // ESC
  EXPECT_EQ(Printable("a\nb"), "a\\x0ab");          // a forged line
  EXPECT_EQ(Printable("a\nb", true), "a\nb");       // a message's own lines
  EXPECT_EQ(Printable("\xc2\x9b"
                      "1m"),
            "\\xc2\\x9b1m");                             // U+009B, CSI
  EXPECT_EQ(Printable("\xff\x7f\\"), "\\xff\\x7f\\\\");  // not UTF-8, DEL, backslash
  EXPECT_EQ(Printable(std::string("a\0b", 3)), "a\\x00b");
}

TEST(TimeTextTest, SaysWhenAndHowLongAgo) {
  const int64_t t = 1796222011000000000;  // 2026-12-02 14:33:31 UTC
  EXPECT_EQ(HumanMoment(t, t + 42000000000), "2026-12-02 14:33 UTC (42 s ago)");
  EXPECT_EQ(HumanMoment(t, t + 3 * 86400000000000), "2026-12-02 14:33 UTC (3 days ago)");
  EXPECT_EQ(HumanMoment(t, t - 1), "2026-12-02 14:33 UTC (in the future)");
}

TEST(UuidTest, RoundTripAndRejects) {
  Uuid u = RandomUuid();
  EXPECT_EQ(u[6] >> 4, 4);  // version 4
  Uuid back{};
  ASSERT_TRUE(ParseUuid(UuidToString(u), &back));
  EXPECT_EQ(back, u);
  Uuid untouched{};
  EXPECT_FALSE(ParseUuid("not-a-uuid", &untouched));
  EXPECT_FALSE(ParseUuid(std::string(34, 'a'), &untouched));
  EXPECT_EQ(untouched, Uuid{});
}

// A configuration or report path that names a directory read as empty through an ifstream (a
// configuration of defaults, silently), and a FIFO blocked for ever.
TEST(ReadRegularFileTest, RefusesWhatIsNotARegularFile) {
  char tmpl[] = "/tmp/warmboot-read-file-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl, file = dir + "/f", fifo = dir + "/p";
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "a = 1\n", 6), 6);
  ::close(fd);
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);

  auto text = ReadRegularFile(file, 1024);
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  EXPECT_EQ(*text, "a = 1\n");
  auto d = ReadRegularFile(dir, 1024);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find(dir + " is a directory"), std::string::npos);
  auto p = ReadRegularFile(fifo, 1024);  // returns at once: no writer is waited for
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("not a regular file"), std::string::npos);
  EXPECT_FALSE(ReadRegularFile(file, 3).ok());  // larger than allowed
  EXPECT_EQ(ReadRegularFile(dir + "/missing", 1024).status().code(), Code::kNotFound);
  ::unlink(fifo.c_str());
  ::unlink(file.c_str());
  ::rmdir(dir.c_str());
}

// More than a pipe holds (64 KiB): the writer's write(2) calls come back short and WriteAll
// must carry on where each stopped; the reader's reads come back short too.
TEST(IoTest, WholeBuffersThroughShortTransfers) {
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  std::string data(1 << 20, '\0');
  Xoshiro256 rng(1);
  for (char& c : data) c = static_cast<char>(rng.Next());
  int write_err = -1;
  std::thread writer([&] {
    write_err = WriteAll(p[1], data.data(), data.size());
    ::close(p[1]);
  });
  std::string got(data.size() + 10, '\0');
  size_t n = 0;
  EXPECT_EQ(ReadFull(p[0], got.data(), got.size(), &n), 0);  // stops at the end of the file
  writer.join();
  ::close(p[0]);
  EXPECT_EQ(write_err, 0);
  ASSERT_EQ(n, data.size());
  EXPECT_EQ(got.substr(0, n), data);
}

TEST(IoTest, PositionalAndErrors) {
  char path[] = "/tmp/wb-io-XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::unlink(path);
  EXPECT_EQ(PwriteAll(fd, "hello", 5, 4096), 0);
  char buf[16] = {};
  size_t n = 99;
  EXPECT_EQ(PreadFull(fd, buf, sizeof buf, 4096, &n), 0);
  EXPECT_EQ(n, 5u);
  EXPECT_EQ(std::string(buf, n), "hello");
  EXPECT_EQ(PreadFull(fd, buf, 4, 0, &n), 0);
  EXPECT_EQ(n, 4u);  // the hole reads as zeros
  ::close(fd);
  // A closed descriptor: the errno comes back, with what arrived.
  EXPECT_EQ(PwriteAll(fd, "x", 1, 0), EBADF);
  EXPECT_EQ(ReadFull(fd, buf, 1, &n), EBADF);
  EXPECT_EQ(n, 0u);
}

TEST(FdLimitTest, TheSoftLimitIsRaisedToTheHardOne) {
  struct rlimit old;
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &old), 0);
  if (old.rlim_max < 128) GTEST_SKIP() << "the hard open-file limit is " << old.rlim_max;
  struct rlimit low = old;
  low.rlim_cur = 64;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  EXPECT_EQ(RaiseOpenFileLimit(), old.rlim_max);
  struct rlimit now;
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &now), 0);
  EXPECT_EQ(now.rlim_cur, old.rlim_max);
  EXPECT_EQ(now.rlim_max, old.rlim_max);
  EXPECT_EQ(RaiseOpenFileLimit(), old.rlim_max) << "already raised: unchanged";
  ::setrlimit(RLIMIT_NOFILE, &old);
}

TEST(XoshiroTest, KnownSequence) {
  // The e2e sample application's expected bytes depend on this exact sequence.
  Xoshiro256 a(42), b(42);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(a.Next(), b.Next());
  uint64_t x = 0;
  EXPECT_EQ(SplitMix64(x), 0xe220a8397b1dcdafull);
  for (int i = 0; i < 1000; ++i) EXPECT_LT(a.Below(10), 10u);
}

// More buffers than one pwritev takes (IOV_MAX), empty ones among them: all land, in order.
TEST(IoTest, PwritevAllWritesEveryBuffer) {
  char path[] = "/tmp/warmboot-pwritev-XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::unlink(path);
  std::vector<std::string> parts;
  std::vector<struct iovec> iov;
  std::string want;
  for (int i = 0; i < 2500; ++i) parts.push_back(i % 7 == 0 ? "" : std::to_string(i) + ",");
  for (std::string& p : parts) {
    iov.push_back({p.data(), p.size()});
    want += p;
  }
  ASSERT_EQ(PwritevAll(fd, iov.data(), static_cast<int>(iov.size()), 5), 0);
  std::string got(want.size(), '\0');
  ASSERT_EQ(::pread(fd, got.data(), got.size(), 5), static_cast<ssize_t>(got.size()));
  EXPECT_EQ(got, want);
  EXPECT_EQ(PwritevAll(-1, iov.data(), 2, 0), EBADF);
  ::close(fd);
}

}  // namespace
}  // namespace warmboot

namespace warmboot {
namespace {

// /proc/zoneinfo as Linux 6.1 prints it (trimmed): what is in use in ZONE_MOVABLE is its
// managed pages less its free ones, on the node asked for or on all.
TEST(MovableZoneUseTest, ManagedLessFreeAndTheFileLruOnTheNodeAsked) {
  const std::string zoneinfo =
      "Node 0, zone   Normal\n"
      "  pages free     1000\n"
      "        managed  500000\n"
      "Node 0, zone  Movable\n"
      "  pages free     30000\n"
      "        spanned  65536\n"
      "        present  65536\n"
      "        managed  65536\n"
      "      nr_free_pages 30000\n"
      "      nr_zone_inactive_file 9000\n"
      "      nr_zone_active_file 1000\n"
      "Node 2, zone  Movable\n"
      "  pages free     1000\n"
      "        managed  2000\n"
      "Node 2, zone   Device\n"
      "  pages free     0\n"
      "        managed  0\n";
  auto node0 = MovableZoneUseFrom(zoneinfo, 0);
  ASSERT_TRUE(node0.has_value());
  EXPECT_EQ(node0->in_use_bytes, (65536ull - 30000) * 4096);
  EXPECT_EQ(node0->file_bytes, 10000ull * 4096);
  auto node2 = MovableZoneUseFrom(zoneinfo, 2);
  ASSERT_TRUE(node2.has_value());
  EXPECT_EQ(node2->in_use_bytes, 1000ull * 4096);
  EXPECT_EQ(node2->file_bytes, 0u);
  auto all = MovableZoneUseFrom(zoneinfo, -1);
  ASSERT_TRUE(all.has_value());
  EXPECT_EQ(all->in_use_bytes, (65536ull - 30000 + 1000) * 4096);
  EXPECT_FALSE(MovableZoneUseFrom(zoneinfo, 1).has_value()) << "no Movable zone on node 1";
  EXPECT_FALSE(MovableZoneUseFrom("", -1).has_value());
}

}  // namespace
}  // namespace warmboot

namespace warmboot {
namespace {

// The child's line "SigBlk:\t<hex mask>" from /proc/self/status, spawned with `attr`.
std::string ChildBlockedMask(const posix_spawnattr_t* attr) {
  int fds[2];
  if (::pipe(fds) != 0) return "pipe failed";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  const char* argv[] = {"/bin/grep", "^SigBlk:", "/proc/self/status", nullptr};
  pid_t pid;
  int err = ::posix_spawn(&pid, argv[0], &actions, attr, const_cast<char**>(argv), nullptr);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  std::string out;
  char buf[256];
  for (ssize_t n; err == 0 && (n = ::read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, n);
  ::close(fds[0]);
  if (err == 0) ::waitpid(pid, nullptr, 0);
  return out;
}

// A command holds SIGTERM, SIGINT and SIGHUP back while it changes the machine; a program it
// runs meanwhile (systemctl, kexec) must not inherit that, or a service manager cannot stop it.
TEST(SpawnSignalDefaultsTest, AChildStartsWithNothingBlockedWhileTheParentDefers) {
  DeferredSignals held;
  EXPECT_EQ(ChildBlockedMask(nullptr).find("\t0000000000000000"), std::string::npos)
      << "without the attributes the child inherits the held-back signals";
  SpawnSignalDefaults attr;
  EXPECT_NE(ChildBlockedMask(attr.get()).find("\t0000000000000000"), std::string::npos)
      << ChildBlockedMask(attr.get());
}

// Dismiss drops what is pending without recording it, and ignores what comes later: the
// command does not die by either when the holder goes, and Take() still reports nothing.
TEST(DeferredSignalsTest, DismissDropsWhatIsPendingAndIgnoresWhatComes) {
  struct sigaction before[3];
  const int sigs[3] = {SIGTERM, SIGINT, SIGHUP};
  for (int i = 0; i < 3; ++i) sigaction(sigs[i], nullptr, &before[i]);
  {
    DeferredSignals held;
    // At this thread, which holds them back (a process-wide kill could land on another thread).
    ::pthread_kill(::pthread_self(), SIGHUP);
    ::pthread_kill(::pthread_self(), SIGINT);
    held.Dismiss();
    EXPECT_EQ(held.Take(), 0);
    ::pthread_kill(::pthread_self(), SIGTERM);  // after: ignored, even once the mask goes
  }
  SUCCEED() << "still alive after the holder went";
  for (int i = 0; i < 3; ++i) sigaction(sigs[i], &before[i], nullptr);
}

// The child is in a process group of its own: the terminal's Ctrl-C is not for it.
TEST(SpawnSignalDefaultsTest, AChildHasAProcessGroupOfItsOwn) {
  SpawnSignalDefaults attr;
  pid_t pid;
  const char* argv[] = {"/bin/sleep", "5", nullptr};
  ASSERT_EQ(::posix_spawn(&pid, argv[0], nullptr, attr.get(), const_cast<char**>(argv), nullptr),
            0);
  EXPECT_EQ(::getpgid(pid), pid);
  EXPECT_NE(::getpgid(pid), ::getpgrp());
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

}  // namespace
// A task that throws (out of memory) fails the loop with a Status; the other workers stop. No
// exception leaves a thread (that would be std::terminate).
TEST(ParallelForTest, ATaskThatThrowsIsAnErrorNotAnAbort) {
  std::atomic<int> done{0};
  Status s = ParallelFor(64, 4, [&](size_t i, unsigned) -> Status {
    if (i == 5) throw std::bad_alloc();
    ++done;
    return Status::Ok();
  });
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("stopped: "), std::string::npos) << s.ToString();
  EXPECT_LT(done.load(), 64);
}

// A system that refuses threads (RLIMIT_NPROC here; a cgroup's pids.max on a real machine) leaves
// the calling thread to do every task: no abort (std::thread throws, and an unjoined one
// terminates).
TEST(ParallelForTest, WithoutThreadsTheCallerDoesEveryTask) {
  if (::geteuid() != 0) GTEST_SKIP() << "limits another uid's processes: needs root";
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // As nobody, allowed no process more than it has: every pthread_create fails (EAGAIN).
    struct rlimit one = {1, 1};
    if (::setgid(65534) != 0 || ::setuid(65534) != 0 || ::setrlimit(RLIMIT_NPROC, &one) != 0) {
      ::_exit(10);
    }
    std::atomic<int> done{0};
    Status s = ParallelFor(16, 4, [&](size_t, unsigned) {
      ++done;
      return Status::Ok();
    });
    ::_exit(s.ok() && done == 16 ? 0 : 11);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "ended by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace warmboot
