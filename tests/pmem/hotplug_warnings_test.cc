#include "pmem/hotplug_warnings.h"

#include <gtest/gtest.h>

#include "testing/test_util.h"

namespace warmboot {
namespace {

TEST(HotplugWarningsTest, QuietOnAMachineThatLeavesMemoryAlone) {
  testing::TempDir root;
  testing::MakeDirs(root / "etc/udev/rules.d");
  testing::WriteFile(root / "etc/udev/rules.d/60-net.rules",
                     "SUBSYSTEM==\"net\", ACTION==\"add\"\n");
  EXPECT_EQ(HotplugWarnings("offline", root.path()), std::vector<std::string>{});
}

TEST(HotplugWarningsTest, NamesThePolicyTheRuleAndTheDaxctlConfig) {
  testing::TempDir root;
  testing::MakeDirs(root / "lib/udev/rules.d");
  testing::WriteFile(root / "lib/udev/rules.d/40-hotplug.rules",
                     "# comment\nSUBSYSTEM==\"memory\", ACTION==\"add\", "
                     "ATTR{state}==\"offline\", ATTR{state}=\"online\"\n");
  testing::MakeDirs(root / "etc/daxctl.conf.d");
  testing::WriteFile(root / "etc/daxctl.conf.d/dax.conf", "[reconfigure-device unnamed]\n");
  auto w = HotplugWarnings("online", root.path());
  ASSERT_EQ(w.size(), 3u);
  EXPECT_NE(w[0].find("into a kernel zone"), std::string::npos) << w[0];
  EXPECT_NE(w[1].find("40-hotplug.rules"), std::string::npos) << w[1];
  EXPECT_NE(w[2].find("dax.conf"), std::string::npos) << w[2];
}

}  // namespace
}  // namespace warmboot
