// testing::ChildProcess, which the tests that act as another user run their other side in: a
// failed check, a hang and a test that never starts its child each end as something to read.
#include "testing/child_process.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <stdexcept>

namespace warmboot::testing {
namespace {

TEST(ChildProcessTest, ItsBodysAnswerIsTheResult) {
  ChildProcess ok([] { return 0; });
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok.Wait(), "");
  ChildProcess failed([] { return 12; });
  EXPECT_EQ(failed.Wait(), "exit 12");
}

// Its body runs at Start(), not at the fork: the test sets up what the body needs in between.
TEST(ChildProcessTest, ItsBodyRunsOnlyWhenStarted) {
  int ran[2];
  ASSERT_EQ(::pipe(ran), 0);
  ChildProcess child([&] { return ::write(ran[1], "r", 1) == 1 ? 0 : 1; });
  struct pollfd p {
    ran[0], POLLIN, 0
  };
  EXPECT_EQ(::poll(&p, 1, 200), 0) << "the body ran before Start()";
  child.Start();
  EXPECT_EQ(::poll(&p, 1, 10000), 1);
  EXPECT_EQ(child.Wait(), "");
  ::close(ran[0]);
  ::close(ran[1]);
}

// An exception does not leave the body: in the child it would run the rest of the test.
TEST(ChildProcessTest, ABodyThatThrowsEndsThere) {
  ChildProcess threw([]() -> int { throw std::runtime_error("from the body"); });
  EXPECT_EQ(threw.Wait(), "its body threw");
}

TEST(ChildProcessTest, AHangEndsWhenItsTimeRunsOut) {
  ChildProcess hung(
      [] {
        ::pause();
        return 0;
      },
      1);
  EXPECT_EQ(hung.Wait(), "killed by signal 14 (its 1 s ran out: a hang)");
}

// A test that fails before starting its child leaves no process behind, and waits for none.
TEST(ChildProcessTest, OneNeverStartedEndsWithTheTest) {
  pid_t pid;
  {
    ChildProcess never([] {
      ::pause();
      return 0;
    });
    pid = never.pid();
    ASSERT_GT(pid, 0);
  }
  EXPECT_NE(::kill(pid, 0), 0);  // reaped: no such process
}

}  // namespace
}  // namespace warmboot::testing
