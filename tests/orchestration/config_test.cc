#include "orchestration/config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace warmboot {
namespace {

TEST(ConfigTest, DefaultsWhenEmpty) {
  auto c = ParseConfig("# nothing\n\n", "test.conf");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->state_dir, "/run/warmboot/state");
  EXPECT_EQ(c->compression.mode, CompressionPolicy::Mode::kAuto);
  EXPECT_EQ(c->chunk_size, 1u << 20);
}

TEST(ConfigTest, ParsesEveryKey) {
  auto c = ParseConfig(
      "namespace = namespace1.0\nstate_dir=/s\nrestore_dir = /r # comment\nreport_dir = /p\n"
      "compression = zstd:5\nchunk_size = 64K\nthreads = 2\ncheckpoint_deadline_ms = 500\n"
      "offline_attempts = 3\noffline_backoff_ms = 10\nkernel = /k\ninitrd = /i\n"
      "cmdline = console=ttyS0\nappend = quiet\n",
      "t");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->namespace_name, "namespace1.0");
  EXPECT_EQ(c->restore_dir, "/r");
  EXPECT_EQ(c->compression.level, 5);
  EXPECT_EQ(c->chunk_size, 65536u);
  EXPECT_EQ(c->threads, 2u);
  EXPECT_EQ(c->offline_attempts, 3);
  EXPECT_EQ(c->cmdline, "console=ttyS0");
  EXPECT_EQ(TransitionOptionsFrom(*c).offline_backoff.count(), 10);
}

TEST(ConfigTest, ErrorsNameTheLine) {
  auto c = ParseConfig("state_dir = /s\nbogus = 1\n", "w.conf");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("w.conf:2"), std::string::npos);
  EXPECT_NE(c.status().message().find("bogus"), std::string::npos);
  EXPECT_FALSE(ParseConfig("chunk_size = 5000\n", "x").ok());
  EXPECT_FALSE(ParseConfig("compression = lz4\n", "x").ok());
  EXPECT_FALSE(ParseConfig("state_dir = relative\n", "x").ok());
  EXPECT_FALSE(ParseConfig("just words\n", "x").ok());
  // The product cannot be pointed at a simulator: that key is gone (testing/ has its own binary).
  EXPECT_FALSE(ParseConfig("platform = simulated:/tmp/x\n", "x").ok());
}

TEST(ConfigTest, MissingDefaultFileMeansDefaults) {
  EXPECT_TRUE(LoadConfig("/nonexistent/warmboot.conf", true).ok());
  auto c = LoadConfig("/nonexistent/warmboot.conf", false);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kNotFound);
}

TEST(ConfigTest, ADirectoryIsNoConfiguration) {
  // Through an ifstream a directory read as empty: all defaults, exit 0, without a word.
  auto c = LoadConfig("/etc", false);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("/etc is a directory"), std::string::npos)
      << c.status().ToString();
  EXPECT_FALSE(LoadConfig("/etc", true).ok());  // missing is fine; a directory is not
}

TEST(ConfigTest, NumbersNameTheKeyAndTheRange) {
  auto c = ParseConfig("threads = 2000\n", "w.conf");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("threads takes a whole number from 0 to 1024, not '2000'"),
            std::string::npos)
      << c.status().ToString();
  EXPECT_FALSE(ParseConfig("lock_wait_ms = 2K\n", "x").ok());  // milliseconds take no unit
  EXPECT_TRUE(ParseConfig("offline_early_reserve = 2G\n", "x").ok());
  auto spelled = ParseConfig("chunk_size = 1MiB\n", "x");  // as --chunk-size takes it
  ASSERT_TRUE(spelled.ok()) << spelled.status().ToString();
  EXPECT_EQ(spelled->chunk_size, 1u << 20);
  auto z = ParseConfig("compression = lz4\n", "x");
  ASSERT_FALSE(z.ok());
  EXPECT_NE(z.status().message().find("compression takes"), std::string::npos);
}

TEST(ConfigTest, ShippedConfigParses) {
  auto c = LoadConfig(WARMBOOT_SOURCE_DIR "/config/warmboot.conf", false);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->offline_attempts, 8);
}

TEST(ConfigTest, TheCheckpointRoundsKeys) {
  auto c = ParseConfig(
      "checkpoint_deadline_ms = 500\nincomplete_checkpoint = abort\n"
      "api_socket = /run/x.sock\n",
      "test.conf");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->checkpoint_deadline_ms, 500u);
  EXPECT_FALSE(c->continue_incomplete_checkpoint);
  EXPECT_EQ(c->api_socket, "/run/x.sock");
  EXPECT_TRUE(ParseConfig("", "x")->continue_incomplete_checkpoint);
  EXPECT_FALSE(ParseConfig("incomplete_checkpoint = maybe\n", "x").ok());
}

TEST(ConfigTest, TheEarlyOfflineAndCacheKeys) {
  auto d = ParseConfig("", "x");
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->offline_early);
  EXPECT_EQ(d->offline_early_reserve, 1ull << 30);
  EXPECT_TRUE(d->drop_page_cache);
  auto c = ParseConfig("offline_early = no\noffline_early_reserve = 256M\ndrop_page_cache = no\n",
                       "test.conf");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_FALSE(c->offline_early);
  EXPECT_EQ(c->offline_early_reserve, 256ull << 20);
  EXPECT_FALSE(c->drop_page_cache);
  auto bad = ParseConfig("offline_early = sometimes\n", "test.conf");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("test.conf:1: offline_early must be 'yes' or 'no'"),
            std::string::npos)
      << bad.status().message();
  EXPECT_FALSE(ParseConfig("offline_early_reserve = lots\n", "x").ok());
}

TEST(ConfigTest, TheLateGiveBackKeys) {
  auto d = ParseConfig("", "x");
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->give_back_late);
  EXPECT_EQ(d->give_back_late_reserve, 1ull << 30);
  auto c = ParseConfig("give_back_late = no\ngive_back_late_reserve = 512M\n", "test.conf");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_FALSE(c->give_back_late);
  EXPECT_EQ(c->give_back_late_reserve, 512ull << 20);
  EXPECT_TRUE(c->offline_early);  // the keys beside it are not touched
  EXPECT_EQ(c->offline_early_reserve, 1ull << 30);
  auto bad = ParseConfig("give_back_late = later\n", "test.conf");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("give_back_late must be 'yes' or 'no'"), std::string::npos);
  EXPECT_FALSE(ParseConfig("give_back_late_reserve = -1\n", "x").ok());
}

TEST(ConfigTest, KexecRequestFromConfig) {
  Config c;
  c.kernel = "/boot/k";
  c.initrd = "/boot/i";
  c.cmdline = "x";
  c.append = "y";
  KexecRequest r = KexecRequestFromConfig(c);
  EXPECT_EQ(r.kernel, "/boot/k");
  EXPECT_EQ(r.initrd, "/boot/i");
  EXPECT_EQ(r.cmdline, "x");
  EXPECT_EQ(r.append, "y");
}

// A NUL in a value would cut the next kernel's command line short without a word (found by
// fuzz/config_target.cc; fuzz/regressions/config/).
TEST(ConfigTest, StaleImagesAreKeptUnlessThePolicySaysRestore) {
  EXPECT_FALSE(ParseConfig("", "x")->restore_stale_images);
  EXPECT_FALSE(ParseConfig("stale_images = keep\n", "x")->restore_stale_images);
  EXPECT_TRUE(ParseConfig("stale_images = restore\n", "x")->restore_stale_images);
  auto bad = ParseConfig("stale_images = yes\n", "w.conf");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("w.conf:1"), std::string::npos);
}

TEST(ConfigTest, RefusesNulBytes) {
  auto c = ParseConfig(
      std::string("kernel = /boot/k\ncmdline = root=/dev/sda\0 memmap=1G!4G\n", 55), "t.conf");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "t.conf:2: contains a NUL byte (the configuration is text)");
  EXPECT_TRUE(ParseConfig(std::string("# a comment \0 is not read\n", 26), "t.conf").ok());
}

}  // namespace
}  // namespace warmboot
