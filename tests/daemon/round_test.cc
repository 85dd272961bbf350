// The round's bookkeeping (daemon/round.h) on its own: who counts as waiting, missed and done,
// and what an answer costs when many apps take part.
#include "daemon/round.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "util/json_text.h"

namespace warmboot::daemon {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;

Owner App(int i) {
  return Owner{1000, "app-" + std::to_string(i)};
}

TEST(RoundTest, AnAppPastItsOwnDeadlineIsMissedWhileTheOthersAnswer) {
  const auto t = Round::Clock::now();
  Round round(1, t + hours(1));
  round.Expect(App(0), t + milliseconds(10));
  round.Expect(App(1), t + hours(1));
  round.Expect(App(2), t + hours(1));
  round.Expire(t + milliseconds(5));
  EXPECT_TRUE(round.Record(App(1), true, "", t + milliseconds(6)).ok());
  round.Expire(t + milliseconds(6));
  EXPECT_FALSE(round.Done());
  round.Expire(t + milliseconds(10));  // app-0's deadline
  EXPECT_FALSE(round.Done());
  round.Disconnected(App(2));
  EXPECT_TRUE(round.Done());
  const auto apps = round.ToJson()["apps"];
  EXPECT_EQ(apps[0]["answer"], "missed");
  EXPECT_EQ(apps[1]["answer"], "ready");
  EXPECT_EQ(apps[2]["answer"], "disconnected");
}

TEST(RoundTest, AnAppToldAgainWaitsAgainAndALateAnswerCountsAsMissed) {
  const auto t = Round::Clock::now();
  Round round(1, t + hours(1));
  round.Expect(App(0), t + milliseconds(10));
  EXPECT_FALSE(round.Record(App(0), true, "", t + milliseconds(20)).ok());
  EXPECT_TRUE(round.Done());
  round.Expect(App(0), t + hours(1));
  EXPECT_FALSE(round.Done());
  round.Expire(t + milliseconds(20));
  EXPECT_TRUE(round.Record(App(0), false, "busy", t + milliseconds(30)).ok());
  EXPECT_TRUE(round.Done());
}

// The server asks whether the round is over after every answer. A round of 30000 apps took
// seconds when each of those questions walked every app (N^2); it takes milliseconds.
// The result preserve gets is written as text; it must say what the document status shows,
// whatever bytes an app put in its name or its reason.
TEST(RoundTest, TheResultTextParsesToTheDocument) {
  const auto t = Round::Clock::now();
  Round round(7, t + hours(1));
  const Owner quoted{1000, "say \"hi\" \\ back"}, control{1001, std::string("tab\there\x01", 10)},
      latin1{0, "caf\xe9"};
  round.Expect(quoted, t + hours(1));
  round.Expect(control, t + hours(1));
  round.Expect(latin1, t + hours(1));
  round.Absent(App(4));
  ASSERT_TRUE(round.Record(quoted, true, "", t).ok());
  ASSERT_TRUE(round.Record(control, false, "not now: \"busy\"\n\xff", t).ok());
  std::string text = "{";
  round.AppendResult(text);
  text += "}";
  const auto parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(parsed.is_discarded()) << text;
  EXPECT_EQ(parsed, nlohmann::json::parse(DumpJson(round.ToJson()))) << text;
  EXPECT_EQ(parsed["ready"], 1);
  EXPECT_EQ(parsed["complete"], false);
}

TEST(RoundTest, AnAnswerDoesNotWalkEveryApp) {
  constexpr int kApps = 30000;
  const auto t = Round::Clock::now();
  Round round(1, t + hours(1));
  for (int i = 0; i < kApps; ++i) round.Expect(App(i), t + hours(1));
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kApps; ++i) {
    ASSERT_TRUE(round.Record(App(i), true, "", t).ok());
    round.Expire(t);
    ASSERT_EQ(round.Done(), i + 1 == kApps);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 1.0) << "answers of " << kApps << " apps";
}

}  // namespace
}  // namespace warmboot::daemon
