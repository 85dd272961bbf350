// The kexec step over FakeKexecSystem: plan resolution, the checks, the error mapping, the
// fallback to kexec-tools and the "nothing loaded" check. Nothing here loads a kernel or
// reboots; the real system is used only for its harmless parts (files, running a program).
#include "kexec/kexec.h"

#include <gtest/gtest.h>
#include <linux/kexec.h>
#include <sys/stat.h>

#include <cerrno>

#include "testing/fake_kexec_system.h"
#include "testing/test_util.h"

namespace warmboot {
namespace {

using testing::FakeKexecSystem;

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

KexecPlan MustResolve(const KexecRequest& request, FakeKexecSystem& sys) {
  auto plan = ResolveKexecPlan(request, sys);
  EXPECT_TRUE(plan.ok()) << plan.status().ToString();
  return plan.ok() ? *plan : KexecPlan{};
}

KexecPlan MustCheck(const KexecRequest& request, FakeKexecSystem& sys) {
  KexecPlan plan = MustResolve(request, sys);
  Status s = CheckKexecPlan(&plan, sys);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return plan;
}

// --- Command line -----------------------------------------------------------------------------

TEST(KexecCmdline, DropsWhatBelongsToThisBootOnly) {
  FilteredCmdline f = FilterRunningCmdline(
      "BOOT_IMAGE=/boot/vmlinuz-6.1 root=UUID=ab ro initrd=\\initrd.img memmap=528M!4G "
      "crashkernel=256M elfcorehdr=0x1000 kexec_jump_back_entry=0x2000 quiet\n");
  EXPECT_EQ(f.cmdline, "root=UUID=ab ro memmap=528M!4G crashkernel=256M quiet");
  EXPECT_EQ(f.dropped,
            (std::vector<std::string>{"BOOT_IMAGE=/boot/vmlinuz-6.1", "initrd=\\initrd.img",
                                      "elfcorehdr=0x1000", "kexec_jump_back_entry=0x2000"}));
}

TEST(KexecCmdline, KeepsInitArgumentsAndQuotedValues) {
  FilteredCmdline f =
      FilterRunningCmdline("  root=/dev/vda1   dyndbg=\"file x.c +p\" -- BOOT_IMAGE=keep  -s\n");
  EXPECT_EQ(f.cmdline, "root=/dev/vda1 dyndbg=\"file x.c +p\" -- BOOT_IMAGE=keep -s");
  EXPECT_TRUE(f.dropped.empty());
  EXPECT_EQ(SplitCmdline("a \"b c\" d").size(), 3u);
}

TEST(KexecCmdline, TheImageThisBootRestoredIsNotNamedToTheNext) {
  FilteredCmdline f =
      FilterRunningCmdline("ro warmboot.image=0b1c2d3e-0000-4000-8000-000000000000 quiet");
  EXPECT_EQ(f.cmdline, "ro quiet");
  EXPECT_EQ(f.dropped,
            (std::vector<std::string>{"warmboot.image=0b1c2d3e-0000-4000-8000-000000000000"}));
}

TEST(KexecCmdline, FindsAParametersLastValueBeforeInitsArguments) {
  EXPECT_EQ(CmdlineParam("a=1 warmboot.image=x b warmboot.image=y", "warmboot.image"), "y");
  EXPECT_EQ(CmdlineParam("\"warmboot.image=x\"", "warmboot.image"), "x");
  EXPECT_EQ(CmdlineParam("warmboot.image=\"x\"", "warmboot.image"), "x");
  EXPECT_EQ(CmdlineParam("warmboot.image", "warmboot.image"), std::nullopt);
  EXPECT_EQ(CmdlineParam("warmboot.images=x", "warmboot.image"), std::nullopt);
  EXPECT_EQ(CmdlineParam("-- warmboot.image=x", "warmboot.image"), std::nullopt);
}

TEST(KexecCmdline, ANameThatOnlyStartsLikeADroppedOneIsKept) {
  EXPECT_EQ(FilterRunningCmdline("initrdfoo=1 BOOT_IMAGEX").cmdline, "initrdfoo=1 BOOT_IMAGEX");
}

// Parameters are where the kernel sees them (lib/cmdline.c, found by fuzz/kexec_target.cc):
// its isspace() also separates at \v, \f, \r and 0xa0, and a quoted "initrd=..." or "--" is read
// without its quotes.
TEST(KexecCmdline, SplitsAndNamesAsTheKernelDoes) {
  FilteredCmdline f = FilterRunningCmdline(
      "a\finitrd=x\vb\rBOOT_IMAGE=y\xa0"
      "c");
  EXPECT_EQ(f.cmdline, "a b c");
  EXPECT_EQ(f.dropped, (std::vector<std::string>{"initrd=x", "BOOT_IMAGE=y"}));
  f = FilterRunningCmdline("\"initrd=\\EFI\\initrd.img\" root=/dev/sda \"elfcorehdr\"");
  EXPECT_EQ(f.cmdline, "root=/dev/sda");
  f = FilterRunningCmdline("ro \"--\" initrd=init-arg");
  EXPECT_EQ(f.cmdline, "ro \"--\" initrd=init-arg");
  EXPECT_TRUE(f.dropped.empty());
  EXPECT_EQ(FilterRunningCmdline("=initrd=x").cmdline, "=initrd=x");  // its name is "=initrd"
}

// --- Plan -------------------------------------------------------------------------------------

TEST(KexecPlanTest, DefaultsFollowTheRunningKernel) {
  FakeKexecSystem sys;
  KexecPlan p = MustResolve({}, sys);
  EXPECT_EQ(p.kernel, FakeKexecSystem::kKernel);
  EXPECT_TRUE(p.default_kernel);
  EXPECT_EQ(p.initrd, FakeKexecSystem::kInitrd);
  EXPECT_EQ(p.cmdline, "root=/dev/vda1 ro memmap=528M!4G console=ttyS0");
  EXPECT_EQ(p.cmdline_origin, "/proc/cmdline");
  EXPECT_EQ(p.dropped, std::vector<std::string>{"BOOT_IMAGE=/boot/vmlinuz-6.1.0-test"});
  EXPECT_TRUE(sys.open_fds.empty());
}

TEST(KexecPlanTest, NoInitrdWhenTheDefaultDoesNotExist) {
  FakeKexecSystem sys;
  sys.files.erase(FakeKexecSystem::kInitrd);
  EXPECT_EQ(MustResolve({}, sys).initrd, "");
  sys.files["/boot/initramfs-6.1.0-test.img"] = {};
  EXPECT_EQ(MustResolve({}, sys).initrd, "/boot/initramfs-6.1.0-test.img");
}

TEST(KexecPlanTest, InitrdNoneMeansNone) {
  FakeKexecSystem sys;
  EXPECT_EQ(MustResolve({.initrd = "none"}, sys).initrd, "");
}

TEST(KexecPlanTest, AppendAddsToTheRunningCommandLine) {
  FakeKexecSystem sys;
  KexecPlan p = MustResolve({.append = "  warmboot.restore=1 "}, sys);
  EXPECT_EQ(p.cmdline, "root=/dev/vda1 ro memmap=528M!4G console=ttyS0 warmboot.restore=1");
}

// The running command line carries the last warm reboot's `append`: adding it again at every
// warm reboot would grow the command line until kexec refuses it (COMMAND_LINE_SIZE).
TEST(KexecPlanTest, AppendAddsOnlyWhatTheCommandLineLacks) {
  FakeKexecSystem sys;
  sys.text["/proc/cmdline"] = "root=/dev/vda1 ro memmap=528M!4G console=ttyS0 iommu=pt -- single\n";
  KexecPlan p = MustResolve({.append = "iommu=pt quiet -- single"}, sys);
  EXPECT_EQ(p.cmdline, "root=/dev/vda1 ro memmap=528M!4G console=ttyS0 iommu=pt quiet -- single");
  // The next boot's plan from that command line: the same again, not longer.
  sys.text["/proc/cmdline"] = p.cmdline + "\n";
  EXPECT_EQ(MustResolve({.append = "iommu=pt quiet -- single"}, sys).cmdline, p.cmdline);
}

TEST(KexecPlanTest, TheImageTokenIsTheRequestsOnly) {
  FakeKexecSystem sys;
  const std::string u = "0b1c2d3e-0000-4000-8000-000000000000";
  KexecPlan p = MustResolve({.append = "warmboot.image=old -- single", .image_token = u}, sys);
  EXPECT_EQ(p.cmdline,
            "root=/dev/vda1 ro memmap=528M!4G console=ttyS0 warmboot.image=" + u + " -- single");
  EXPECT_EQ(p.image_token, u);
  EXPECT_EQ(MustResolve({.append = "warmboot.image=old"}, sys).cmdline,
            "root=/dev/vda1 ro memmap=528M!4G console=ttyS0");
}

TEST(KexecPlanTest, CmdlineReplacesTheRunningOne) {
  FakeKexecSystem sys;
  sys.text.erase("/proc/cmdline");  // not even read
  KexecPlan p = MustResolve({.kernel = "/k", .cmdline = "root=/dev/sda2 memmap=1G!4G"}, sys);
  EXPECT_EQ(p.cmdline, "root=/dev/sda2 memmap=1G!4G");
  EXPECT_EQ(p.cmdline_origin, "configured");
  EXPECT_FALSE(p.default_kernel);
  EXPECT_EQ(p.kernel, "/k");
  EXPECT_EQ(MustResolve({.cmdline = "a", .append = "b"}, sys).cmdline, "a b");
}

// An unpaired quote would swallow warmboot.image= into another parameter's value: the next boot
// would not restore. Refused in the plan, before anything is done.
TEST(KexecPlanTest, UnpairedQuoteIsRefused) {
  FakeKexecSystem sys;
  auto p = ResolveKexecPlan({.cmdline = "root=/dev/sda2 dyndbg=\"file x.c +p"}, sys);
  ASSERT_FALSE(p.ok());
  EXPECT_TRUE(Contains(p.status().message(), "`cmdline =`"));
  EXPECT_TRUE(Contains(p.status().message(), "unpaired double quote"));
  p = ResolveKexecPlan({.append = "a=\"b"}, sys);
  ASSERT_FALSE(p.ok());
  EXPECT_TRUE(Contains(p.status().message(), "`append =`"));
  sys.text["/proc/cmdline"] = "root=/dev/vda1 \"ro\n";
  p = ResolveKexecPlan({.image_token = "0b1c2d3e-0000-4000-8000-000000000000"}, sys);
  ASSERT_FALSE(p.ok());
  EXPECT_TRUE(Contains(p.status().message(), "/proc/cmdline"));
  EXPECT_TRUE(Contains(p.status().message(), "`cmdline =`")) << "a fix the operator can make";
  // Paired quotes are the kernel's own syntax and pass; after a bare "--" the words are init's,
  // and the image's token goes before the "--": a quote there loses nothing.
  EXPECT_TRUE(ResolveKexecPlan({.cmdline = "root=/dev/sda2 dyndbg=\"file x.c +p\""}, sys).ok());
  auto after = ResolveKexecPlan(
      {.cmdline = "root=/dev/sda2 -- \"x", .image_token = "0b1c2d3e-0000-4000-8000-000000000000"},
      sys);
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(after->cmdline,
            "root=/dev/sda2 warmboot.image=0b1c2d3e-0000-4000-8000-000000000000 -- \"x");
  FakeKexecSystem fresh;
  EXPECT_TRUE(ResolveKexecPlan({.append = "-- \"single"}, fresh).ok());
  // An unpaired quote before "--" swallows the "--" too.
  EXPECT_FALSE(ResolveKexecPlan({.cmdline = "root=\"/dev/sda2 -- x"}, sys).ok());
}

TEST(KexecPlanTest, UnreadableProcCmdlineSaysWhatToSet) {
  FakeKexecSystem sys;
  sys.text.erase("/proc/cmdline");
  auto p = ResolveKexecPlan({}, sys);
  ASSERT_FALSE(p.ok());
  EXPECT_TRUE(Contains(p.status().message(), "/proc/cmdline"));
  EXPECT_TRUE(Contains(p.status().message(), "cmdline ="));
}

// --- Checks -----------------------------------------------------------------------------------

TEST(KexecCheck, AllGood) {
  FakeKexecSystem sys;
  KexecPlan p = MustCheck({}, sys);
  EXPECT_EQ(p.loader, KexecLoader::kFileLoad);
  EXPECT_EQ(p.kexec_tools, "/usr/sbin/kexec");
  EXPECT_TRUE(sys.loads.empty());
  EXPECT_TRUE(sys.open_fds.empty());
}

TEST(KexecCheck, MissingKernelIsNamed) {
  FakeKexecSystem sys;
  KexecPlan p = MustResolve({.kernel = "/nonexistent/vmlinuz"}, sys);
  Status s = CheckKexecPlan(&p, sys);
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_TRUE(Contains(s.message(), "kernel /nonexistent/vmlinuz does not exist")) << s.message();

  sys.files.erase(FakeKexecSystem::kKernel);
  p = MustResolve({}, sys);
  s = CheckKexecPlan(&p, sys);
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_TRUE(Contains(s.message(), FakeKexecSystem::kKernel)) << s.message();
  EXPECT_TRUE(Contains(s.message(), "kernel =")) << s.message();
}

TEST(KexecCheck, FilesAreCheckedFirst) {
  // Even where kexec cannot work at all, a missing kernel is what is reported.
  FakeKexecSystem sys;
  sys.boot_capability = false;
  sys.text.erase("/sys/kernel/kexec_loaded");
  KexecPlan p = MustResolve({.kernel = "/nonexistent"}, sys);
  EXPECT_EQ(CheckKexecPlan(&p, sys).code(), Code::kNotFound);
}

TEST(KexecCheck, KernelMustBeANonEmptyRegularFile) {
  FakeKexecSystem sys;
  sys.files["/boot"] = {.regular = false};
  sys.files["/empty"] = {.size = 0};
  KexecPlan p = MustResolve({.kernel = "/boot"}, sys);
  Status s = CheckKexecPlan(&p, sys);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_TRUE(Contains(s.message(), "kernel /boot is not a regular file")) << s.message();
  p = MustResolve({.kernel = "/empty"}, sys);
  s = CheckKexecPlan(&p, sys);
  EXPECT_TRUE(Contains(s.message(), "kernel /empty is empty")) << s.message();
  EXPECT_TRUE(sys.open_fds.empty());
}

TEST(KexecCheck, UnreadableInitrdIsNamed) {
  FakeKexecSystem sys;
  sys.files[FakeKexecSystem::kInitrd].err = EACCES;
  KexecPlan p = MustResolve({}, sys);  // the default initrd exists, so it is chosen
  EXPECT_EQ(p.initrd, FakeKexecSystem::kInitrd);
  Status s = CheckKexecPlan(&p, sys);
  EXPECT_EQ(s.code(), Code::kPermission);
  EXPECT_TRUE(Contains(s.message(), std::string("initrd ") + FakeKexecSystem::kInitrd))
      << s.message();

  p = MustResolve({.initrd = "/missing.img"}, sys);
  s = CheckKexecPlan(&p, sys);
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_TRUE(Contains(s.message(), "initrd /missing.img does not exist")) << s.message();
  EXPECT_TRUE(sys.open_fds.empty());
}

TEST(KexecCheck, CommandLineLength) {
  FakeKexecSystem sys;
  std::string longest(kMaxKexecCmdline, 'x');
  KexecPlan p = MustResolve({.cmdline = longest}, sys);
  EXPECT_TRUE(CheckKexecPlan(&p, sys).ok());
  p = MustResolve({.cmdline = longest + "y"}, sys);
  Status s = CheckKexecPlan(&p, sys);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_TRUE(Contains(s.message(), std::to_string(kMaxKexecCmdline + 1) + " characters"))
      << s.message();
  EXPECT_TRUE(Contains(s.message(), "at most " + std::to_string(kMaxKexecCmdline)));
  // The running command line plus a long append.
  p = MustResolve({.append = std::string(2100, 'a')}, sys);
  EXPECT_EQ(CheckKexecPlan(&p, sys).code(), Code::kInvalidArgument);
}

TEST(KexecCheck, NeedsRoot) {
  FakeKexecSystem sys;
  sys.boot_capability = false;
  KexecPlan p = MustResolve({}, sys);
  Status s = CheckKexecPlan(&p, sys);
  EXPECT_EQ(s.code(), Code::kPermission);
  EXPECT_TRUE(Contains(s.message(), "kexec needs root")) << s.message();
}

TEST(KexecCheck, KernelWithoutKexec) {
  FakeKexecSystem sys;
  sys.text.erase("/sys/kernel/kexec_loaded");
  KexecPlan p = MustResolve({}, sys);
  Status s = CheckKexecPlan(&p, sys);
  EXPECT_EQ(s.code(), Code::kUnsupported);
  EXPECT_TRUE(Contains(s.message(), "cannot kexec")) << s.message();
}

TEST(KexecCheck, KexecDisabled) {
  FakeKexecSystem sys;
  sys.text["/proc/sys/kernel/kexec_load_disabled"] = "1\n";
  KexecPlan p = MustResolve({}, sys);
  Status s = CheckKexecPlan(&p, sys);
  EXPECT_EQ(s.code(), Code::kPermission);
  EXPECT_TRUE(Contains(s.message(), "kexec_load_disabled = 1")) << s.message();
}

TEST(KexecCheck, WithoutFileLoadKexecToolsIsChosen) {
  FakeKexecSystem sys;
  sys.probe_errno = ENOSYS;
  KexecPlan p = MustCheck({}, sys);
  EXPECT_EQ(p.loader, KexecLoader::kKexecTools);
  EXPECT_TRUE(Contains(p.loader_note, "kexec_file_load unavailable (ENOSYS")) << p.loader_note;

  sys.kexec_tools = "";
  p = MustResolve({}, sys);
  Status s = CheckKexecPlan(&p, sys);
  EXPECT_EQ(s.code(), Code::kUnsupported);
  EXPECT_TRUE(Contains(s.message(), "install kexec-tools")) << s.message();
}

TEST(KexecCheck, RefusedProbeIsExplained) {
  FakeKexecSystem sys;
  sys.probe_errno = EPERM;
  sys.text["/sys/kernel/security/lockdown"] = "none [integrity] confidentiality\n";
  KexecPlan p = MustResolve({}, sys);
  Status s = CheckKexecPlan(&p, sys);
  EXPECT_EQ(s.code(), Code::kPermission);
  EXPECT_TRUE(Contains(s.message(), "lockdown (integrity)")) << s.message();
}

// --- memmap= and the legacy pmem region --------------------------------------------------------

constexpr uint64_t kGiB = 1ull << 30, kMiB = 1ull << 20;

// The fake's /proc/cmdline reserves it with memmap=528M!4G.
LegacyPmem Pmem(uint64_t start = 4 * kGiB) {
  return {"namespace0.0", {start, 528 * kMiB}};
}

std::vector<std::pair<uint64_t, uint64_t>> Ranges(const std::string& cmdline) {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  for (const PhysRange& r : LegacyPmemRanges(cmdline)) out.push_back({r.start, r.size});
  return out;
}
using RangeList = std::vector<std::pair<uint64_t, uint64_t>>;

TEST(KexecMemmap, ReadsTheFormsTheKernelReads) {
  const RangeList region = {{4 * kGiB, 528 * kMiB}};
  EXPECT_EQ(Ranges("root=/dev/vda1 memmap=528M!4G quiet"), region);
  EXPECT_EQ(Ranges("memmap=0x21000000!0x100000000"), region);
  EXPECT_EQ(Ranges("memmap=528m!4g"), region);
  EXPECT_EQ(Ranges("memmap=540672K!4194304K"), region);
  EXPECT_EQ(Ranges("\"memmap=528M!4G\""), region);
  EXPECT_EQ(Ranges("memmap=\"528M!4G\""), region);
  EXPECT_EQ(Ranges("memmap=010M!4G"), (RangeList{{4 * kGiB, 8 * kMiB}}));  // octal, as strtoull
  // Lists, repeats, and adjacent or overlapping ranges merged into one region.
  EXPECT_EQ(Ranges("memmap=1G!4G,2G!8G"), (RangeList{{4 * kGiB, kGiB}, {8 * kGiB, 2 * kGiB}}));
  EXPECT_EQ(Ranges("memmap=264M!4G memmap=264M!0x110800000"), region);
  EXPECT_EQ(Ranges("memmap=1G!4G memmap=512M!4G"), (RangeList{{4 * kGiB, kGiB}}));
  // Type 12 by number: added; other %-forms over it may retype it: taken away.
  EXPECT_EQ(Ranges("memmap=528M%4G+12"), region);
  EXPECT_EQ(Ranges("memmap=528M!4G memmap=16M%4G-12+1"),
            (RangeList{{4 * kGiB + 16 * kMiB, 512 * kMiB}}));
  EXPECT_EQ(Ranges("memmap=528M!4G memmap=16M%0x120000000"), (RangeList{{4 * kGiB, 512 * kMiB}}));
  // exactmap forgets what came before it, not what comes after.
  EXPECT_TRUE(Ranges("memmap=528M!4G memmap=exactmap memmap=3G@0").empty());
  EXPECT_EQ(Ranges("memmap=exactmap,3G@0,528M!4G"), region);
}

TEST(KexecMemmap, IgnoresWhatMakesNoLegacyPmem) {
  EXPECT_TRUE(Ranges("memmap=1G$4G memmap=64M@0 memmap=1G#5G memmap=2G mem=4G").empty());
  EXPECT_TRUE(Ranges("root=/dev/vda1 -- memmap=528M!4G").empty());  // init's, not the kernel's
  EXPECT_TRUE(Ranges("xmemmap=528M!4G memmap_x=528M!4G").empty());
  // Entries the kernel rejects.
  EXPECT_TRUE(Ranges("memmap=528M!4Gx memmap=!4G memmap=528M! memmap=").empty());
}

TEST(KexecMemmap, ParameterForARange) {
  EXPECT_EQ(MemmapParameter({4 * kGiB, 528 * kMiB}), "memmap=528M!4G");
  EXPECT_EQ(MemmapParameter({2032 * kMiB, 528 * kMiB}), "memmap=528M!2032M");
  EXPECT_EQ(MemmapParameter({4 * kGiB, 0x1001}), "memmap=0x1001!4G");
  EXPECT_EQ(Ranges(MemmapParameter({4 * kGiB, 0x1001})), (RangeList{{4 * kGiB, 0x1001}}));
}

TEST(KexecLegacyPmem, TheRunningCommandLineKeepsIt) {
  FakeKexecSystem sys;
  KexecPlan p = MustCheck({.legacy_pmem = Pmem()}, sys);
  EXPECT_EQ(p.loader, KexecLoader::kFileLoad);
  ASSERT_TRUE(p.legacy_pmem.has_value());
  EXPECT_EQ(ToJson(p)["legacy_pmem"]["phys_start"], 4 * kGiB);
  // A memmap= that reserves more from the same first byte, or the same range in two pieces.
  MustCheck({.cmdline = "root=/dev/vda1 memmap=1G!4G", .legacy_pmem = Pmem()}, sys);
  MustCheck({.cmdline = "root=/dev/vda1 memmap=264M!4G,264M!0x110800000", .legacy_pmem = Pmem()},
            sys);
}

TEST(KexecLegacyPmem, ACommandLineWithoutItIsRefusedNamingIt) {
  FakeKexecSystem sys;
  KexecPlan p = MustResolve({.cmdline = "root=/dev/vda1 ro", .legacy_pmem = Pmem()}, sys);
  Status s = CheckKexecPlan(&p, sys);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  const std::string& m = s.message();
  EXPECT_TRUE(Contains(m, "does not keep the memmap= that protects the image")) << m;
  EXPECT_TRUE(Contains(m, "namespace0.0 is legacy pmem at 0x100000000-0x120ffffff")) << m;
  EXPECT_TRUE(Contains(m, "Keep memmap=528M!4G")) << m;
  EXPECT_TRUE(Contains(m, "as RAM")) << m;
  EXPECT_TRUE(Contains(m, "(configured) has no memmap=")) << m;
  EXPECT_TRUE(sys.open_fds.empty());
}

TEST(KexecLegacyPmem, ChangedOrUndoneIsRefused) {
  for (const KexecRequest& request : std::vector<KexecRequest>{
           {.cmdline = "root=/dev/vda1 memmap=512M!4G"},     // smaller
           {.cmdline = "root=/dev/vda1 memmap=528M!3G"},     // elsewhere
           {.cmdline = "root=/dev/vda1 memmap=2G!3G"},       // covers it, but starts before it
           {.cmdline = "root=/dev/vda1 -- memmap=528M!4G"},  // init's argument
           {.append = "memmap=exactmap memmap=3G@0"},        // the running one undone
           {.append = "memmap=528M%4G-12+1"},                // retyped as RAM
       }) {
    FakeKexecSystem sys;
    KexecRequest r = request;
    r.legacy_pmem = Pmem();
    KexecPlan p = MustResolve(r, sys);
    Status s = CheckKexecPlan(&p, sys);
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << p.cmdline;
    EXPECT_TRUE(Contains(s.message(), "Keep memmap=528M!4G")) << s.message();
  }
}

TEST(KexecLegacyPmem, ARegionTheFirmwareMadeNeedsNoMemmap) {
  FakeKexecSystem sys;
  sys.text["/proc/cmdline"] = "root=/dev/vda1 ro\n";
  MustCheck({.legacy_pmem = Pmem()}, sys);
  // An NVDIMM (no legacy_pmem) needs none either.
  FakeKexecSystem nvdimm;
  MustCheck({.cmdline = "root=/dev/vda1 ro"}, nvdimm);
}

TEST(KexecLegacyPmem, UnknownAddressKeepsEveryRangeReservedHere) {
  FakeKexecSystem sys;
  sys.text["/proc/cmdline"] = "root=/dev/vda1 memmap=528M!4G memmap=1G!8G\n";
  MustCheck({.legacy_pmem = Pmem(0)}, sys);
  KexecPlan p =
      MustResolve({.cmdline = "root=/dev/vda1 memmap=528M!4G", .legacy_pmem = Pmem(0)}, sys);
  Status s = CheckKexecPlan(&p, sys);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_TRUE(Contains(s.message(), "Keep memmap=1G!8G")) << s.message();
}

TEST(KexecLegacyPmem, UnreadableProcCmdlineStillNeedsIt) {
  FakeKexecSystem sys;
  sys.text.erase("/proc/cmdline");
  KexecPlan p = MustResolve({.cmdline = "root=/dev/vda1", .legacy_pmem = Pmem()}, sys);
  Status s = CheckKexecPlan(&p, sys);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_TRUE(Contains(s.message(), "Keep memmap=528M!4G")) << s.message();
  MustCheck({.cmdline = "root=/dev/vda1 memmap=528M!4G", .legacy_pmem = Pmem()}, sys);
}

// kexec-tools places the kernel top-down in /sys/firmware/memmap's RAM, where a memmap= region
// still is RAM: it runs only with --mem-max below the region.
TEST(KexecLegacyPmem, WithoutFileLoadKexecToolsLoadsBelowTheRegion) {
  FakeKexecSystem sys;
  sys.probe_errno = ENOSYS;
  KexecPlan p = MustCheck({.legacy_pmem = Pmem()}, sys);
  EXPECT_EQ(p.loader, KexecLoader::kKexecTools);
  EXPECT_TRUE(Contains(p.loader_note, "below namespace0.0 (--mem-max=0xffffffff)"))
      << p.loader_note;
  auto r = LoadKexec(p, sys);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(Contains(r->note, "--mem-max=0xffffffff")) << r->note;
  ASSERT_EQ(sys.runs.size(), 1u);
  EXPECT_EQ(sys.runs[0],
            (std::vector<std::string>{
                "/usr/sbin/kexec", "-c", "-l", "--mem-max=0xffffffff", FakeKexecSystem::kKernel,
                std::string("--initrd=") + FakeKexecSystem::kInitrd,
                "--command-line=root=/dev/vda1 ro memmap=528M!4G console=ttyS0"}));
}

TEST(KexecLegacyPmem, WithoutFileLoadAnUnknownAddressRefusesTheFallback) {
  FakeKexecSystem sys;
  sys.probe_errno = ENOSYS;
  KexecPlan p = MustResolve({.legacy_pmem = Pmem(0)}, sys);
  Status s = CheckKexecPlan(&p, sys);
  EXPECT_EQ(s.code(), Code::kUnsupported);
  const std::string& m = s.message();
  EXPECT_TRUE(Contains(m, "kexec_file_load unavailable (ENOSYS")) << m;
  EXPECT_TRUE(Contains(m, "would load the next kernel over the pmem region of namespace0.0")) << m;
  EXPECT_TRUE(Contains(m, "/sys/firmware/memmap")) << m;
  EXPECT_TRUE(Contains(m, "Run a kernel with CONFIG_KEXEC_FILE")) << m;
  EXPECT_TRUE(sys.runs.empty());
}

TEST(KexecLegacyPmem, EnoexecFallbackLoadsBelowTheRegionOrNotAtAll) {
  FakeKexecSystem sys;
  KexecPlan p = MustCheck({.legacy_pmem = Pmem()}, sys);
  sys.load_errnos = {ENOEXEC};
  auto r = LoadKexec(p, sys);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(sys.runs.size(), 1u);
  EXPECT_EQ(sys.runs[0][3], "--mem-max=0xffffffff");

  // The address unknown: kexec_file_load's refusal stands, and kexec-tools is not run.
  FakeKexecSystem unknown;
  p = MustCheck({.legacy_pmem = Pmem(0)}, unknown);
  for (int err : {ENOEXEC, ENOSYS}) {
    unknown.load_errnos = {err};
    auto f = LoadKexec(p, unknown);
    ASSERT_FALSE(f.ok());
    EXPECT_EQ(f.status().code(), Code::kUnsupported);
    EXPECT_TRUE(Contains(f.status().message(), "over the pmem region of namespace0.0"))
        << f.status().message();
    EXPECT_TRUE(unknown.runs.empty());
    EXPECT_FALSE(unknown.Loaded());
  }
}

// --- Error mapping ----------------------------------------------------------------------------

struct ErrorCase {
  int err;
  Code code;
  std::string text;
};

TEST(KexecErrors, EachErrnoSaysWhatToDo) {
  const std::vector<ErrorCase> cases = {
      {EKEYREJECTED, Code::kPermission, "requires signed kexec images (KEXEC_SIG/lockdown)"},
      {EBADMSG, Code::kPermission, "sign the kernel or disable lockdown"},
      {ENOKEY, Code::kPermission, "requires signed kexec images"},
      {EKEYEXPIRED, Code::kPermission, "requires signed kexec images"},
      {ENOEXEC, Code::kInvalidArgument, "is not a bootable kernel image"},
      {EBUSY, Code::kBusy, "another kexec load is in progress"},
      {EINVAL, Code::kInvalidArgument, "command line"},
      {ENOMEM, Code::kIoError, "not enough memory"},
      {ENOSYS, Code::kUnsupported, "no kexec_file_load"},
      {EPERM, Code::kPermission, "security module"},
      {EIO, Code::kIoError, "kexec_file_load(" + std::string(FakeKexecSystem::kKernel)},
  };
  for (const ErrorCase& c : cases) {
    FakeKexecSystem sys;
    KexecPlan p = MustCheck({}, sys);
    Status s = KexecFileLoadError(c.err, p, sys);
    EXPECT_EQ(s.code(), c.code) << ErrnoName(c.err);
    EXPECT_TRUE(Contains(s.message(), c.text)) << ErrnoName(c.err) << ": " << s.message();
    if (c.err != EPERM) {
      EXPECT_TRUE(Contains(s.message(), ErrnoName(c.err))) << s.message();
    }
  }
}

TEST(KexecErrors, EpermSaysWhy) {
  FakeKexecSystem sys;
  KexecPlan p = MustCheck({}, sys);
  sys.boot_capability = false;
  EXPECT_TRUE(Contains(KexecFileLoadError(EPERM, p, sys).message(), "kexec needs root"));
  sys.boot_capability = true;
  sys.text["/proc/sys/kernel/kexec_load_disabled"] = "1";
  EXPECT_TRUE(Contains(KexecFileLoadError(EPERM, p, sys).message(), "kexec_load_disabled"));
  sys.text["/proc/sys/kernel/kexec_load_disabled"] = "0";
  sys.text["/sys/kernel/security/lockdown"] = "none integrity [confidentiality]";
  EXPECT_TRUE(Contains(KexecFileLoadError(EPERM, p, sys).message(), "lockdown (confidentiality)"));
}

TEST(KexecErrors, Names) {
  EXPECT_EQ(ErrnoName(ENOSYS), "ENOSYS");
  EXPECT_EQ(ErrnoName(EKEYREJECTED), "EKEYREJECTED");
}

// --- Loading ----------------------------------------------------------------------------------

TEST(KexecLoad, LoadsWithKexecFileLoad) {
  FakeKexecSystem sys;
  KexecPlan p = MustCheck({.append = "warmboot=1"}, sys);
  auto r = LoadKexec(p, sys);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->loader, KexecLoader::kFileLoad);
  EXPECT_EQ(r->note, "");
  ASSERT_EQ(sys.loads.size(), 1u);
  EXPECT_EQ(sys.loads[0].kernel, FakeKexecSystem::kKernel);
  EXPECT_EQ(sys.loads[0].initrd, FakeKexecSystem::kInitrd);
  EXPECT_EQ(sys.loads[0].cmdline, "root=/dev/vda1 ro memmap=528M!4G console=ttyS0 warmboot=1");
  EXPECT_EQ(sys.loads[0].flags, 0u);
  EXPECT_TRUE(sys.runs.empty());
  EXPECT_TRUE(sys.Loaded());
  EXPECT_TRUE(sys.open_fds.empty());
  EXPECT_EQ(sys.reboots, 0);
}

TEST(KexecLoad, NoInitrdSetsNoInitramfs) {
  FakeKexecSystem sys;
  KexecPlan p = MustCheck({.initrd = "none"}, sys);
  ASSERT_TRUE(LoadKexec(p, sys).ok());
  ASSERT_EQ(sys.loads.size(), 1u);
  EXPECT_EQ(sys.loads[0].flags, static_cast<unsigned long>(KEXEC_FILE_NO_INITRAMFS));
  EXPECT_EQ(sys.loads[0].initrd, "");
}

TEST(KexecLoad, FallsBackToKexecToolsOnEnosysAndSaysSo) {
  FakeKexecSystem sys;
  KexecPlan p = MustCheck({}, sys);
  sys.load_errnos = {ENOSYS};
  auto r = LoadKexec(p, sys);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->loader, KexecLoader::kKexecTools);
  EXPECT_TRUE(Contains(r->note, "kexec_file_load unavailable (ENOSYS)")) << r->note;
  EXPECT_TRUE(Contains(r->note, "loaded with kexec-tools' /usr/sbin/kexec -l")) << r->note;
  ASSERT_EQ(sys.runs.size(), 1u);
  EXPECT_EQ(sys.runs[0], (std::vector<std::string>{
                             "/usr/sbin/kexec", "-c", "-l", FakeKexecSystem::kKernel,
                             std::string("--initrd=") + FakeKexecSystem::kInitrd,
                             "--command-line=root=/dev/vda1 ro memmap=528M!4G console=ttyS0"}));
  EXPECT_TRUE(sys.Loaded());
  EXPECT_TRUE(sys.open_fds.empty());
}

TEST(KexecLoad, CheckedPlanWithoutFileLoadGoesStraightToKexecTools) {
  FakeKexecSystem sys;
  sys.probe_errno = ENOSYS;
  KexecPlan p = MustCheck({.initrd = "none"}, sys);
  auto r = LoadKexec(p, sys);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(sys.loads.empty());
  ASSERT_EQ(sys.runs.size(), 1u);
  EXPECT_EQ(sys.runs[0].size(), 5u);  // no --initrd
  EXPECT_EQ(r->loader, KexecLoader::kKexecTools);
}

TEST(KexecLoad, EnoexecTriesKexecToolsAndReportsBoth) {
  FakeKexecSystem sys;
  KexecPlan p = MustCheck({}, sys);
  sys.load_errnos = {ENOEXEC};
  auto r = LoadKexec(p, sys);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(Contains(r->note, "could not load this image (ENOEXEC)")) << r->note;

  FakeKexecSystem failing;
  p = MustCheck({}, failing);
  failing.load_errnos = {ENOEXEC};
  failing.tools_result = {1, "Cannot determine the file type of /boot/vmlinuz\n"};
  auto f = LoadKexec(p, failing);
  ASSERT_FALSE(f.ok());
  EXPECT_TRUE(Contains(f.status().message(), "not a bootable kernel image"));
  EXPECT_TRUE(Contains(f.status().message(), "Cannot determine the file type"));
  EXPECT_TRUE(Contains(f.status().message(), "exit 1"));
  EXPECT_FALSE(failing.Loaded());
}

TEST(KexecLoad, EnosysWithoutKexecTools) {
  FakeKexecSystem sys;
  KexecPlan p = MustCheck({}, sys);
  sys.kexec_tools = "";
  p.kexec_tools = "";
  sys.load_errnos = {ENOSYS};
  auto r = LoadKexec(p, sys);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnsupported);
  EXPECT_TRUE(Contains(r.status().message(), "install kexec-tools")) << r.status().message();
}

TEST(KexecLoad, NoFallbackWhenTheSignatureIsRejected) {
  FakeKexecSystem sys;
  KexecPlan p = MustCheck({}, sys);
  sys.load_errnos = {EKEYREJECTED};
  auto r = LoadKexec(p, sys);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.status().message(), "signed kexec images"));
  EXPECT_TRUE(sys.runs.empty());
  EXPECT_TRUE(sys.open_fds.empty());
}

TEST(KexecLoad, NothingLoadedIsDetected) {
  FakeKexecSystem sys;
  KexecPlan p = MustCheck({}, sys);
  sys.load_sets_loaded = false;  // the call said yes, the kernel says nothing is loaded
  auto r = LoadKexec(p, sys);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_TRUE(Contains(r.status().message(), "nothing loaded")) << r.status().message();
  EXPECT_EQ(VerifyKexecLoaded(sys).code(), Code::kNotFound);
}

TEST(KexecLoad, KernelGoneSinceTheCheck) {
  FakeKexecSystem sys;
  KexecPlan p = MustCheck({}, sys);
  sys.files[FakeKexecSystem::kInitrd].err = EACCES;
  auto r = LoadKexec(p, sys);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.status().message(), FakeKexecSystem::kInitrd));
  EXPECT_TRUE(sys.loads.empty());
  EXPECT_TRUE(sys.open_fds.empty());
}

TEST(KexecLoad, KexecLoadedFlag) {
  FakeKexecSystem sys;
  EXPECT_FALSE(*KexecLoaded(sys));
  sys.SetLoaded(true);
  EXPECT_TRUE(*KexecLoaded(sys));
  EXPECT_TRUE(VerifyKexecLoaded(sys).ok());
  sys.text["/sys/kernel/kexec_loaded"] = "x";
  EXPECT_FALSE(KexecLoaded(sys).ok());
  sys.text.erase("/sys/kernel/kexec_loaded");
  EXPECT_EQ(KexecLoaded(sys).status().code(), Code::kUnsupported);
}

// --- Unload and execute -----------------------------------------------------------------------

TEST(KexecUnload, UnloadsWhatIsLoaded) {
  FakeKexecSystem sys;
  EXPECT_TRUE(UnloadKexec(sys).ok());  // nothing loaded: nothing to do
  EXPECT_EQ(sys.unloads, 0);
  sys.SetLoaded(true);
  EXPECT_TRUE(UnloadKexec(sys).ok());
  EXPECT_EQ(sys.unloads, 1);
  EXPECT_FALSE(sys.Loaded());
}

TEST(KexecUnload, WithoutFileLoadUsesKexecTools) {
  FakeKexecSystem sys;
  sys.SetLoaded(true);
  sys.unload_errno = ENOSYS;
  EXPECT_TRUE(UnloadKexec(sys).ok());
  ASSERT_EQ(sys.runs.size(), 1u);
  EXPECT_EQ(sys.runs[0], (std::vector<std::string>{"/usr/sbin/kexec", "-u"}));
  EXPECT_FALSE(sys.Loaded());
}

TEST(KexecUnload, NotRoot) {
  FakeKexecSystem sys;
  sys.SetLoaded(true);
  sys.boot_capability = false;
  sys.unload_errno = EPERM;
  Status s = UnloadKexec(sys);
  EXPECT_TRUE(Contains(s.message(), "kexec needs root")) << s.message();
}

TEST(KexecExecute, NothingLoadedMeansNoReboot) {
  FakeKexecSystem sys;
  Status s = ExecuteKexec(sys);
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_TRUE(Contains(s.message(), "nothing loaded"));
  EXPECT_EQ(sys.reboots, 0);
  EXPECT_EQ(sys.syncs, 0);
}

TEST(KexecExecute, SyncsThenRebootsAndAReturnIsAnError) {
  FakeKexecSystem sys;
  sys.SetLoaded(true);
  sys.reboot_errno = EPERM;
  Status s = ExecuteKexec(sys);
  EXPECT_EQ(sys.syncs, 1);
  EXPECT_EQ(sys.reboots, 1);
  EXPECT_EQ(s.code(), Code::kPermission);
  EXPECT_TRUE(Contains(s.message(), "kexec needs root"));
  sys.reboot_errno = 0;
  EXPECT_FALSE(ExecuteKexec(sys).ok());
  sys.reboot_errno = EINVAL;
  EXPECT_TRUE(Contains(ExecuteKexec(sys).message(), "nothing loaded"));
}

// --- The real system's harmless parts ----------------------------------------------------------

TEST(RealKexecSystem, FilesAndRelease) {
  KexecSystem& sys = RealKexecSystem();
  EXPECT_FALSE(sys.KernelRelease().empty());
  EXPECT_TRUE(sys.ReadFile("/proc/cmdline").ok());
  EXPECT_EQ(sys.ReadFile("/nonexistent/file").status().code(), Code::kNotFound);

  testing::TempDir dir;
  testing::WriteFile(dir / "kernel", std::string(1000, 'k'));
  OpenedFile f;
  ASSERT_EQ(sys.Open(dir / "kernel", &f), 0);
  EXPECT_TRUE(f.regular);
  EXPECT_EQ(f.size, 1000u);
  sys.Close(f.fd);
  OpenedFile d;
  ASSERT_EQ(sys.Open(dir.path(), &d), 0);
  EXPECT_FALSE(d.regular);
  sys.Close(d.fd);
  EXPECT_EQ(sys.Open(dir / "missing", &f), ENOENT);
}

constexpr std::chrono::milliseconds kLong{60000};

// A program that never ends (kexec(8) stuck) is stopped at its timeout, with what it started.
TEST(RealKexecSystem, AProgramThatNeverEndsIsStoppedAtItsTimeout) {
  KexecSystem& sys = RealKexecSystem();
  const std::string sh = sys.FindProgram("sh").empty() ? "/bin/sh" : sys.FindProgram("sh");
  const auto start = std::chrono::steady_clock::now();
  auto r = sys.Run({sh, "-c", "sleep 30 & sleep 30"}, std::chrono::milliseconds(300));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(r.status().code(), Code::kBusy) << r.status().ToString();
  EXPECT_NE(r.status().message().find("did not finish within 300 ms"), std::string::npos)
      << r.status().message();
}

TEST(RealKexecSystem, RunsAProgramWithoutAShell) {
  KexecSystem& sys = RealKexecSystem();
  std::string sh = sys.FindProgram("sh");
  ASSERT_FALSE(sh.empty());
  auto r = sys.Run({sh, "-c", "echo out; echo err >&2; exit 3", "ignored"}, kLong);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_TRUE(Contains(r->output, "out"));
  EXPECT_TRUE(Contains(r->output, "err"));
  // Arguments are passed as they are, not through a shell.
  auto echo = sys.Run({sh, "-c", "printf '%s' \"$1\"", "sh", "a b; $(x) `y`"}, kLong);
  ASSERT_TRUE(echo.ok());
  EXPECT_EQ(echo->output, "a b; $(x) `y`");
  EXPECT_FALSE(sys.Run({"/nonexistent/kexec", "-l"}, kLong).ok());
  EXPECT_EQ(sys.FindProgram("no-such-program-warmboot"), "");
}

}  // namespace
}  // namespace warmboot
