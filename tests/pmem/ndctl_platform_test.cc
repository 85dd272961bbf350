// The real (libndctl/libdaxctl) platform on whatever machine runs the tests. Without pmem it must
// say so plainly; the transitions themselves are exercised in a VM with an emulated NVDIMM or a
// memmap= region.
#include <dirent.h>
#include <gtest/gtest.h>

#include <string>

#include "pmem/ndctl/platform.h"

namespace warmboot {
namespace {

// Whether /sys/bus/nd/devices lists any namespace.
bool MachineHasNamespaces() {
  DIR* dir = ::opendir("/sys/bus/nd/devices");
  if (dir == nullptr) return false;
  bool found = false;
  while (struct dirent* de = ::readdir(dir)) {
    if (std::string(de->d_name).rfind("namespace", 0) == 0) found = true;
  }
  ::closedir(dir);
  return found;
}

TEST(RealPmemPlatform, ProbeWithoutPmemSaysNoNamespaceFound) {
  if (MachineHasNamespaces()) GTEST_SKIP() << "this machine has pmem namespaces";
  auto platform = OpenRealPmemPlatform("");
  ASSERT_TRUE(platform.ok()) << platform.status().ToString();
  auto info = (*platform)->Probe();
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.status().code(), Code::kNotFound) << info.status().ToString();
  EXPECT_NE(info.status().message().find("no pmem namespace found"), std::string::npos)
      << info.status().ToString();
}

TEST(RealPmemPlatform, NamedNamespaceThatIsMissingIsNotFound) {
  if (MachineHasNamespaces()) GTEST_SKIP() << "this machine has pmem namespaces";
  auto platform = OpenRealPmemPlatform("namespace9.9");
  ASSERT_TRUE(platform.ok()) << platform.status().ToString();
  auto info = (*platform)->Probe();
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.status().code(), Code::kNotFound) << info.status().ToString();
  EXPECT_NE(info.status().message().find("namespace9.9"), std::string::npos)
      << info.status().ToString();
  // Every device step fails the same way instead of touching anything.
  EXPECT_EQ((*platform)
                ->OfflineMemory(std::chrono::milliseconds(100), std::chrono::milliseconds(100))
                .code(),
            Code::kNotFound);
  EXPECT_EQ((*platform)->ReconfigureNamespace(PmemMode::kRaw).code(), Code::kNotFound);
  EXPECT_EQ((*platform)->OpenRawMedia(OpenMode::kReadOnly).status().code(), Code::kNotFound);
}

TEST(RealPmemPlatform, RejectsModesItCannotReach) {
  auto platform = OpenRealPmemPlatform("");
  ASSERT_TRUE(platform.ok()) << platform.status().ToString();
  EXPECT_EQ((*platform)->ReconfigureNamespace(PmemMode::kFsdax).code(), Code::kInvalidArgument);
  EXPECT_EQ((*platform)->EnableDax(PmemMode::kRaw).code(), Code::kInvalidArgument);
  EXPECT_EQ((*platform)->SetAutoOnlinePolicy("sideways").code(), Code::kInvalidArgument);
}

TEST(RealPmemPlatform, ReadsTheAutoOnlinePolicy) {
  auto platform = OpenRealPmemPlatform("");
  ASSERT_TRUE(platform.ok()) << platform.status().ToString();
  auto policy = (*platform)->GetAutoOnlinePolicy();
  if (!policy.ok()) GTEST_SKIP() << "no memory hotplug here: " << policy.status().ToString();
  EXPECT_TRUE(*policy == "offline" || *policy == "online" || *policy == "online_movable" ||
              *policy == "online_kernel")
      << *policy;
}

}  // namespace
}  // namespace warmboot
