// Entries packed from descriptors (ExtraEntry): the checkpoint API's segments go into the image
// straight from the memfds warmbootd holds, under .warmboot-api/, in pre-order with the state
// directory's own entries, and come back as files with their owners and modes.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/image.h"
#include "testing/test_util.h"

namespace warmboot {
namespace {

using testing::TempDir;

int Memfd(const std::string& bytes) {
  int fd = ::memfd_create("segment", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  EXPECT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  EXPECT_EQ(::fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK), 0);
  return fd;
}

std::vector<ExtraEntry> Segments(int heap, int index) {
  return {{".warmboot-api", true, -1, 0755, 0, 0},
          {".warmboot-api/1000", true, -1, 0700, 1000, 1000},
          {".warmboot-api/1000/db", true, -1, 0700, 1000, 1000},
          {".warmboot-api/1000/db/index", false, index, 0600, 1000, 1000},
          {".warmboot-api/1000/db/heap", false, heap, 0600, 1000, 1000}};
}

TEST(ExtraEntriesTest, SegmentsFromDescriptorsRoundTripInPreOrder) {
  TempDir dir;
  testing::MakeDirs(dir / "state/a");
  testing::WriteFile(dir / "state/a/file", "state dir file");
  testing::WriteFile(dir / "state/Z", "capital");
  const std::string heap_bytes = testing::RandomBytes(3 << 20, 9);
  int heap = Memfd(heap_bytes), index = Memfd("small");
  PackOptions o;
  o.chunk_size = 1 << 20;
  auto plan = PlanPack(dir / "state", o, Segments(heap, index));
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->summary().raw_bytes, heap_bytes.size() + 5 + 14 + 7);
  MemoryMedia media(64 << 20);
  auto packed = PackImage(*plan, media, o);
  ASSERT_TRUE(packed.ok()) << packed.status().ToString();
  ::close(heap);
  ::close(index);

  auto inspected = InspectImage(media);
  ASSERT_TRUE(inspected.ok());
  std::vector<std::string> paths;
  for (const SegmentInfo& s : inspected->segments) paths.push_back(s.path);
  // Byte-wise: '.' < 'Z' < 'a'; a directory before its contents; names sorted within each.
  EXPECT_EQ(paths, (std::vector<std::string>{".warmboot-api", ".warmboot-api/1000",
                                             ".warmboot-api/1000/db", ".warmboot-api/1000/db/heap",
                                             ".warmboot-api/1000/db/index", "Z", "a", "a/file"}));
  UnpackOptions uo;
  uo.restore_owner = ::geteuid() == 0;
  auto unpacked = UnpackImage(media, dir / "dest", uo);
  ASSERT_TRUE(unpacked.ok()) << unpacked.status().ToString();
  EXPECT_EQ(testing::ReadFile(dir / "dest/.warmboot-api/1000/db/heap"), heap_bytes);
  EXPECT_EQ(testing::ReadFile(dir / "dest/.warmboot-api/1000/db/index"), "small");
  EXPECT_EQ(testing::ReadFile(dir / "dest/a/file"), "state dir file");
  struct stat st;
  ASSERT_EQ(::stat((dir / "dest/.warmboot-api/1000/db/heap").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  if (::geteuid() == 0) {
    EXPECT_EQ(st.st_uid, 1000u);
  }
  ASSERT_EQ(::stat((dir / "dest/.warmboot-api/1000/db").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
}

TEST(ExtraEntriesTest, BadExtraEntriesAreRefusedBeforeAnythingIsWritten) {
  TempDir dir;
  testing::MakeDirs(dir / "state/.warmboot-api");
  int fd = Memfd("x");
  PackOptions o;
  auto clash = PlanPack(dir / "state", o, Segments(fd, fd));
  EXPECT_FALSE(clash.ok());
  EXPECT_NE(clash.status().message().find("also given as an extra entry"), std::string::npos);
  testing::MakeDirs(dir / "empty");
  auto orphan = PlanPack(dir / "empty", o, {{"x/y", false, fd, 0600, 0, 0}});
  EXPECT_NE(orphan.status().message().find("its directory is not among"), std::string::npos);
  auto dotdot = PlanPack(dir / "empty", o, {{"../y", false, fd, 0600, 0, 0}});
  EXPECT_FALSE(dotdot.ok());
  int pipefd[2];
  ASSERT_EQ(::pipe(pipefd), 0);
  auto pipe = PlanPack(dir / "empty", o, {{"p", false, pipefd[0], 0600, 0, 0}});
  EXPECT_NE(pipe.status().message().find("not an open regular file"), std::string::npos);
  ::close(pipefd[0]);
  ::close(pipefd[1]);
  ::close(fd);
}

TEST(ExtraEntriesTest, AFileChangedBetweenPlanAndPackFailsThePack) {
  TempDir dir;
  testing::MakeDirs(dir / "empty");
  const std::string path = dir / "segment";
  testing::WriteFile(path, std::string(1 << 16, 'a'));
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  PackOptions o;
  auto plan = PlanPack(dir / "empty", o, {{"s", false, fd, 0600, 0, 0}});
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  testing::WriteFile(path, std::string(1 << 17, 'b'));
  MemoryMedia media(16 << 20);
  auto packed = PackImage(*plan, media, o);
  EXPECT_FALSE(packed.ok());
  ::close(fd);
}

}  // namespace
}  // namespace warmboot
