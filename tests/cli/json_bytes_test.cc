// The warmboot binary, run as a process on crafted images whose names, symlink targets and
// kernel release are not UTF-8: every command exits cleanly with its documented code, and every
// JSON it prints or writes is valid UTF-8 (an uncaught exception would abort with SIGABRT).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "testing/image_builder.h"
#include "testing/test_util.h"

namespace warmboot {
namespace {

using testing::CraftedImage;

struct ProcessRun {
  int exit_code = -1;  // -signal when killed
  std::string out;
};

// Runs the warmboot binary with `args`, stdout captured, stderr to /dev/null.
ProcessRun RunWarmboot(const std::vector<std::string>& args) {
  int pipefd[2];
  if (::pipe(pipefd) != 0) return {};
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(pipefd[1], 1);
    int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 2);
    ::close(pipefd[0]);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(WARMBOOT_BINARY));
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(WARMBOOT_BINARY, argv.data());
    ::_exit(127);
  }
  ::close(pipefd[1]);
  ProcessRun r;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(pipefd[0], buf, sizeof buf)) > 0) r.out.append(buf, n);
  ::close(pipefd[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  return r;
}

CraftedImage Crafted(bool damaged) {
  std::vector<testing::CraftEntry> entries = {
      testing::CraftDir("d\xff"), testing::CraftFile("d\xff/f\xe9", "hello\n"),
      testing::CraftSymlink("l\xc3\x28", "t\xed\xa0\x80"),
      testing::CraftFile("bad\xfe", testing::RandomBytes(5000, 5)),
      testing::CraftFile("report.json/x", testing::RandomBytes(5000, 6))};
  CraftedImage img = CraftedImage::Build(entries);
  img.header.kernel_release = "6.1\xff";
  if (damaged) {
    for (uint64_t s : {3, 4}) {
      img.data[img.chunks[img.segments[s].first_chunk].offset - format::kDataOffset] ^= 1;
    }
  }
  return img;
}

void WriteImage(const CraftedImage& img, const std::string& path) {
  auto media = img.Write();
  testing::WriteFile(path, std::string(media->bytes().begin(), media->bytes().end()), 0600);
}

nlohmann::json ParseJson(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << "not valid UTF-8 JSON:\n" << text;
  return j;
}

class JsonBytesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteImage(Crafted(false), dir_ / "intact.img");
    WriteImage(Crafted(true), dir_ / "damaged.img");
  }
  testing::TempDir dir_;
};

TEST_F(JsonBytesTest, InspectVerifyUnpackJson) {
  struct Case {
    std::vector<std::string> args;
    int exit_code;
  } cases[] = {
      {{"inspect", dir_ / "intact.img", "--json"}, 0},
      {{"inspect", dir_ / "damaged.img", "--json"}, 0},
      {{"verify", dir_ / "intact.img", "--json"}, 0},
      {{"verify", dir_ / "damaged.img", "--json"}, 3},
      {{"unpack", dir_ / "intact.img", dir_ / "out1", "--json"}, 0},
      {{"unpack", dir_ / "damaged.img", dir_ / "out2", "--json"}, 3},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.args[0] + " " + c.args[1]);
    ProcessRun r = RunWarmboot(c.args);
    EXPECT_EQ(r.exit_code, c.exit_code) << r.out;
    nlohmann::json j = ParseJson(r.out);
    if (!j.is_discarded()) {
      EXPECT_EQ(j.value("exit_code", -1), c.exit_code);
    }
  }
  // The human forms exit cleanly too.
  EXPECT_EQ(RunWarmboot({"inspect", dir_ / "damaged.img"}).exit_code, 0);
  EXPECT_EQ(RunWarmboot({"verify", dir_ / "damaged.img"}).exit_code, 3);
}

// A plain unpack of a damaged segment with such a name writes the quarantine report: the
// restore path, which a boot's restore runs; it must end in exit 3, with the report valid.
// A damaged file at report.json/x is quarantined without clashing with the report, every try.
TEST_F(JsonBytesTest, DamagedUnpackWritesValidReport) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    SCOPED_TRACE("attempt " + std::to_string(attempt));
    std::string dest = dir_ / ("out" + std::to_string(attempt));
    ProcessRun r = RunWarmboot({"unpack", dir_ / "damaged.img", dest});
    EXPECT_EQ(r.exit_code, 3) << r.out;
    nlohmann::json report = ParseJson(testing::ReadFile(dest + "/.quarantine/report.json"));
    if (report.is_discarded()) continue;
    EXPECT_EQ(report["damaged"].size(), 2u);
    for (const nlohmann::json& d : report["damaged"]) {
      EXPECT_TRUE(d.contains("quarantined_as")) << d.dump();
    }
  }
}

}  // namespace
}  // namespace warmboot
