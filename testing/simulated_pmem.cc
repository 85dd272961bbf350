#include "testing/simulated_pmem.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>

#include "pmem/offline_blocks.h"
#include "pmem/ownership.h"

namespace warmboot {
namespace {

using nlohmann::json;

// Wraps the raw device so writes stop landing after a budget, as when power is cut mid-write.
class PowerCutMedia : public Media {
 public:
  PowerCutMedia(std::unique_ptr<Media> inner, uint64_t budget)
      : inner_(std::move(inner)), budget_(budget) {
    SetKnownBadRanges(inner_->KnownBadRanges());
  }
  const std::string& name() const override { return inner_->name(); }
  uint64_t capacity() const override { return inner_->capacity(); }
  uint64_t size() const override { return inner_->size(); }
  Status ReadAt(uint64_t offset, std::span<uint8_t> out) override {
    return inner_->ReadAt(offset, out);
  }
  uint32_t write_alignment() const override { return inner_->write_alignment(); }
  Status WriteAt(uint64_t offset, const struct iovec* iov, int iovcnt) override {
    // Writers run concurrently; the budget is shared, like the power that is about to fail.
    std::lock_guard lock(mu_);
    for (int i = 0; i < iovcnt; ++i) {
      uint64_t n = std::min<uint64_t>(iov[i].iov_len, budget_);
      if (n)
        WB_RETURN_IF_ERROR(
            inner_->WriteAt(offset, {static_cast<const uint8_t*>(iov[i].iov_base), n}));
      budget_ -= n;
      if (n < iov[i].iov_len) return IoError(name() + ": injected power cut during write");
      offset += n;
    }
    return Status::Ok();
  }
  Status Flush() override {
    std::lock_guard lock(mu_);
    if (budget_ == 0) return IoError(name() + ": injected power cut during flush");
    return inner_->Flush();
  }

 private:
  std::unique_ptr<Media> inner_;
  std::mutex mu_;
  uint64_t budget_;
};

constexpr uint64_t kInfoBlockBytes = 8192;

// devdax "map mem" puts the struct pages in RAM: the namespace keeps only its info block, padded
// to the 2 MiB alignment. kmem then adds the whole 128 MiB blocks that fit in the rest.
uint64_t BlocksFor(uint64_t size) {
  constexpr uint64_t kReserved = 2ull << 20;
  return size > kReserved ? (size - kReserved) / SimulatedPmem::kBlockSize : 0;
}

}  // namespace

const char* PmemStepName(PmemStep step) {
  switch (step) {
    case PmemStep::kProbe:
      return "probe";
    case PmemStep::kGetPolicy:
      return "get-policy";
    case PmemStep::kSetPolicy:
      return "set-policy";
    case PmemStep::kOffline:
      return "offline";
    case PmemStep::kOnline:
      return "online";
    case PmemStep::kDisableDax:
      return "disable-dax";
    case PmemStep::kEnableDax:
      return "enable-dax";
    case PmemStep::kReconfigure:
      return "reconfigure";
    case PmemStep::kOpenRaw:
      return "open-raw";
    case PmemStep::kBadRanges:
      return "bad-ranges";
    case PmemStep::kClearErrors:
      return "clear-errors";
    case PmemStep::kSetLabel:
      return "set-label";
    case PmemStep::kEnableNamespace:
      return "enable-namespace";
    case PmemStep::kDisableDaxAfterUnbind:
      return "disable-dax-after-unbind";
  }
  return "unknown";
}

Result<std::unique_ptr<SimulatedPmem>> SimulatedPmem::Create(const std::string& dir, uint64_t size,
                                                             bool labeled) {
  if (size % (16ull << 20) != 0 || size == 0) {
    return InvalidArgument("simulated namespace size must be a non-zero multiple of 16 MiB");
  }
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return ErrnoError("cannot create " + dir, errno);
  }
  std::unique_ptr<SimulatedPmem> sim(new SimulatedPmem());
  sim->dir_ = dir;
  sim->image_path_ = dir + "/pmem.img";
  sim->size_ = size;
  sim->labeled_ = labeled;
  uint64_t n = BlocksFor(size);
  for (uint64_t i = 0; i < n; ++i) sim->blocks_.push_back(Block{kFirstBlock + i});
  int fd = ::open(sim->image_path_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoError("cannot create " + sim->image_path_, errno);
  int rc = ::ftruncate(fd, static_cast<off_t>(size));
  int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoError("cannot size " + sim->image_path_, err);
  WB_RETURN_IF_ERROR(sim->Save());
  return sim;
}

Result<std::unique_ptr<SimulatedPmem>> SimulatedPmem::Open(const std::string& dir) {
  std::unique_ptr<SimulatedPmem> sim(new SimulatedPmem());
  sim->dir_ = dir;
  sim->image_path_ = dir + "/pmem.img";
  WB_RETURN_IF_ERROR(sim->Load());
  return sim;
}

Status SimulatedPmem::Save() const {
  json j;
  j["size"] = size_;
  j["mode"] = PmemModeName(mode_);
  j["labeled"] = labeled_;
  j["dax_uuid"] = UuidToString(dax_uuid_);
  j["label_name"] = label_name_;
  j["phys_start"] = phys_start_;
  j["target_node"] = target_node_;
  j["auto_online_blocks"] = policy_;
  j["boot_auto_online_blocks"] = boot_policy_;
  for (const Block& b : blocks_) {
    j["blocks"].push_back({{"index", b.index},
                           {"present", b.present},
                           {"online", b.online},
                           {"movable", b.movable},
                           {"leaked", b.leaked},
                           {"busy", b.busy},
                           {"hangs", b.hangs}});
  }
  j["bad_ranges"] = json::array();
  for (const ByteRange& r : bad_ranges_) j["bad_ranges"].push_back({r.offset, r.length});
  j["faults"] = json::object();
  for (const auto& [step, f] : faults_) {
    if (f.times == 0) continue;
    j["faults"][PmemStepName(step)] = {{"code", CodeName(f.status.code())},
                                       {"message", f.status.message()},
                                       {"times", f.times},
                                       {"after", f.after}};
  }
  std::string tmp = dir_ + "/sim.json.tmp";
  {
    std::ofstream out(tmp);
    out << j.dump(2) << "\n";
    if (!out) return IoError("cannot write " + tmp);
  }
  if (::rename(tmp.c_str(), (dir_ + "/sim.json").c_str()) != 0) {
    return ErrnoError("cannot write " + dir_ + "/sim.json", errno);
  }
  return Status::Ok();
}

Status SimulatedPmem::Load() {
  std::ifstream in(dir_ + "/sim.json");
  if (!in) return NotFound("no pmem namespace found: no simulated namespace in " + dir_);
  json j = json::parse(in, nullptr, false);
  if (j.is_discarded()) return Corruption(dir_ + "/sim.json is not valid JSON");
  try {
    size_ = j.at("size").get<uint64_t>();
    mode_ = PmemModeFromName(j.at("mode").get<std::string>());
    labeled_ = j.value("labeled", false);
    ParseUuid(j.value("dax_uuid", ""), &dax_uuid_);
    label_name_ = j.value("label_name", "");
    phys_start_ = j.value("phys_start", kDefaultPhysStart);
    target_node_ = j.value("target_node", 0);
    policy_ = j.value("auto_online_blocks", "offline");
    boot_policy_ = j.value("boot_auto_online_blocks", "offline");
    blocks_.clear();
    const json none = json::array();
    for (const json& b : j.contains("blocks") ? j.at("blocks") : none) {
      blocks_.push_back(Block{b.at("index").get<uint64_t>(), b.value("present", false),
                              b.value("online", false), b.value("movable", false),
                              b.value("leaked", false), b.value("busy", 0),
                              b.value("hangs", false)});
    }
    bad_ranges_.clear();
    for (const json& r : j.contains("bad_ranges") ? j.at("bad_ranges") : none) {
      bad_ranges_.push_back({r.at(0).get<uint64_t>(), r.at(1).get<uint64_t>()});
    }
    faults_.clear();
    const json no_faults = json::object();
    for (auto& [name, f] : (j.contains("faults") ? j.at("faults") : no_faults).items()) {
      for (int s = 0; s <= static_cast<int>(PmemStep::kDisableDaxAfterUnbind); ++s) {
        if (name != PmemStepName(static_cast<PmemStep>(s))) continue;
        Code code = Code::kIoError;
        for (int c = 0; c <= static_cast<int>(Code::kUsage); ++c) {
          if (f.value("code", "") == CodeName(static_cast<Code>(c))) code = static_cast<Code>(c);
        }
        faults_[static_cast<PmemStep>(s)] = {Status(code, f.value("message", "injected fault")),
                                             f.value("times", 1), f.value("after", 0)};
      }
    }
  } catch (const json::exception& e) {
    return Corruption(dir_ + "/sim.json: " + e.what());
  }
  return Status::Ok();
}

Status SimulatedPmem::Injected(PmemStep step) {
  auto it = faults_.find(step);
  if (it == faults_.end() || it->second.times == 0) return Status::Ok();
  if (it->second.after > 0) {
    --it->second.after;
    WB_RETURN_IF_ERROR(Save());
    return Status::Ok();
  }
  if (it->second.times > 0) --it->second.times;
  Status s = it->second.status;
  WB_RETURN_IF_ERROR(Save());
  return s;
}

void SimulatedPmem::FailStep(PmemStep step, Status status, int times, int after) {
  faults_[step] = {std::move(status), times, after};
  (void)Save();
}

void SimulatedPmem::SetBlockBusy(uint64_t index, int times) {
  for (Block& b : blocks_) {
    if (b.index == index) b.busy = times;
  }
  (void)Save();
}

void SimulatedPmem::FailWritesAfter(uint64_t bytes) {
  write_budget_ = static_cast<int64_t>(bytes);
}

void SimulatedPmem::AddBadRange(ByteRange range) {
  bad_ranges_.push_back(range);
  (void)Save();
}

void SimulatedPmem::Reboot() {
  for (Block& b : blocks_) b = Block{b.index};
  // kmem bindings do not survive a reboot: a system-ram namespace comes back as devdax.
  if (mode_ == PmemMode::kSystemRam) mode_ = PmemMode::kDevdax;
  // The kernel enables every namespace at boot; one left disabled comes back raw (its info
  // block was cleared before it went down).
  if (mode_ == PmemMode::kDisabled) mode_ = PmemMode::kRaw;
  policy_ = boot_policy_;
  (void)Save();
}

void SimulatedPmem::SetTargetNode(int node) {
  target_node_ = node;
  (void)Save();
}

void SimulatedPmem::SetPhysStart(uint64_t phys_start) {
  phys_start_ = phys_start;
  (void)Save();
}

uint64_t SimulatedPmem::leaked_blocks() const {
  uint64_t n = 0;
  for (const Block& b : blocks_) n += b.leaked;
  return n;
}

Result<PmemInfo> SimulatedPmem::Probe() {
  WB_RETURN_IF_ERROR(Injected(PmemStep::kProbe));
  PmemInfo info;
  info.name = "namespace0.0";
  info.region = "region0";
  info.mode = mode_;
  info.size = size_;
  info.numa_node = 0;
  info.target_node = target_node_;
  info.labeled = labeled_;
  info.label_name = label_name_;
  info.identity = Identity();
  if (mode_ == PmemMode::kDevdax || mode_ == PmemMode::kSystemRam) info.dax_uuid = dax_uuid_;
  if (mode_ == PmemMode::kRaw) info.foreign_signature = ForeignSignature();
  info.phys_start = phys_start_;
  info.memory_block_size = kBlockSize;
  if (mode_ == PmemMode::kRaw || mode_ == PmemMode::kFsdax) info.block_device = image_path_;
  if (mode_ == PmemMode::kDevdax || mode_ == PmemMode::kSystemRam) info.dax_device = "dax0.0";
  for (const Block& b : blocks_) {
    if (b.present || b.leaked) {
      info.blocks.push_back(
          {b.index, b.online, b.online ? (b.movable ? "Movable" : "Normal") : ""});
    }
  }
  return info;
}

Result<std::string> SimulatedPmem::GetAutoOnlinePolicy() {
  WB_RETURN_IF_ERROR(Injected(PmemStep::kGetPolicy));
  return policy_;
}

Status SimulatedPmem::SetAutoOnlinePolicy(const std::string& policy) {
  WB_RETURN_IF_ERROR(Injected(PmemStep::kSetPolicy));
  if (policy != "offline" && policy != "online" && policy != "online_movable" &&
      policy != "online_kernel") {
    return InvalidArgument("invalid auto_online_blocks policy '" + policy + "'");
  }
  policy_ = policy;
  return Save();
}

Status SimulatedPmem::OfflineMemory(std::chrono::milliseconds block_timeout,
                                    std::chrono::milliseconds budget) {
  WB_RETURN_IF_ERROR(Injected(PmemStep::kOffline));
  if (mode_ != PmemMode::kSystemRam) return InvalidArgument("dax0.0 is not in system-ram mode");
  // The real platform's rule (pmem/offline_blocks.h) on a clock of its own: a hanging block
  // takes its whole timeout, every other answer is immediate.
  std::vector<uint64_t> online;
  for (const Block& b : blocks_) {
    if (b.present && b.online) online.push_back(b.index);
  }
  std::chrono::steady_clock::time_point clock{};
  auto offline = [&](uint64_t index, std::chrono::milliseconds timeout) {
    Block& b = *std::find_if(blocks_.begin(), blocks_.end(),
                             [&](const Block& x) { return x.index == index; });
    if (b.hangs) {  // the kernel migrates forever; the timeout interrupts it
      clock += timeout;
      offline_waited_ += timeout;
      return ETIMEDOUT;
    }
    if (b.busy != 0) {
      if (b.busy > 0) --b.busy;
      return EBUSY;
    }
    b.online = false;
    return 0;
  };
  const auto [why, retryable] =
      OfflineBlocksWithin(online, block_timeout, budget, offline, [&] { return clock; });
  WB_RETURN_IF_ERROR(Save());
  if (!why.empty()) {
    return Status(Code::kBusy, "memory blocks of dax0.0 could not be offlined (" + why + ")");
  }
  return Status::Ok();
}

Status SimulatedPmem::OnlineMemory(bool movable) {
  WB_RETURN_IF_ERROR(Injected(PmemStep::kOnline));
  if (mode_ != PmemMode::kSystemRam) return InvalidArgument("dax0.0 is not in system-ram mode");
  for (Block& b : blocks_) {
    if (b.present && !b.online) {
      b.online = true;
      b.movable = movable;
    }
  }
  return Save();
}

Status SimulatedPmem::DisableDax() {
  WB_RETURN_IF_ERROR(Injected(PmemStep::kDisableDax));
  if (mode_ == PmemMode::kSystemRam) {
    // The kernel lets kmem go even with memory online: that memory stays in use, leaked.
    for (Block& b : blocks_) {
      if (b.present && b.online) b.leaked = true;
      b.present = false;
      if (!b.leaked) b.online = false;
    }
    mode_ = PmemMode::kDevdax;
  } else if (mode_ != PmemMode::kDevdax) {
    return InvalidArgument("namespace0.0 has no dax device (mode " +
                           std::string(PmemModeName(mode_)) + ")");
  }
  WB_RETURN_IF_ERROR(Save());
  // The unbind happened (the kernel always lets it), yet the call reports a failure.
  return Injected(PmemStep::kDisableDaxAfterUnbind);
}

Status SimulatedPmem::EnableDax(PmemMode mode) {
  WB_RETURN_IF_ERROR(Injected(PmemStep::kEnableDax));
  if (mode_ != PmemMode::kDevdax && mode_ != PmemMode::kSystemRam) {
    return InvalidArgument("namespace0.0 has no dax device (mode " +
                           std::string(PmemModeName(mode_)) + ")");
  }
  if (mode == PmemMode::kSystemRam) {
    if (mode_ == PmemMode::kSystemRam) return Status::Ok();
    for (const Block& b : blocks_) {
      if (b.leaked) {
        return Status(Code::kBusy,
                      "dax0.0: memory range still in use by the kernel (leaked "
                      "when kmem was unbound with blocks online); reboot");
      }
    }
    for (Block& b : blocks_) {
      b.present = true;
      b.online = policy_ != "offline";
      b.movable = policy_ == "online_movable";
    }
    mode_ = PmemMode::kSystemRam;
  } else if (mode == PmemMode::kDevdax) {
    if (mode_ == PmemMode::kSystemRam)
      return InvalidArgument("dax0.0 is bound to kmem; disable it first");
  } else {
    return InvalidArgument("a dax device can be enabled as devdax or system-ram only");
  }
  return Save();
}

Status SimulatedPmem::WriteInfoBlock(PmemMode mode) {
  int fd = ::open(image_path_.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot open " + image_path_, errno);
  std::vector<uint8_t> block(kInfoBlockBytes, 0);
  if (mode == PmemMode::kDevdax) {
    std::memcpy(block.data() + 4096, "DAX_SIGNATURE", 13);  // the pfn info block sits at 4 KiB
  }
  ssize_t n = ::pwrite(fd, block.data(), block.size(), 0);
  int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(block.size())) return ErrnoError("cannot write info block", err);
  return Status::Ok();
}

Status SimulatedPmem::ReconfigureNamespace(PmemMode mode) {
  WB_RETURN_IF_ERROR(Injected(PmemStep::kReconfigure));
  if (mode != PmemMode::kRaw && mode != PmemMode::kDevdax) {
    return InvalidArgument("namespace0.0 can be reconfigured to raw or devdax only");
  }
  if (mode_ == PmemMode::kSystemRam) {
    return Status(Code::kBusy, "namespace0.0 is busy: dax0.0 is bound to kmem");
  }
  // The kernel's order: disable, clear the info block, set the claim up, enable. A failure to
  // come back up leaves the namespace disabled with its info block cleared.
  if (Status up = Injected(PmemStep::kEnableNamespace); !up.ok()) {
    WB_RETURN_IF_ERROR(WriteInfoBlock(PmemMode::kRaw));
    mode_ = PmemMode::kDisabled;
    dax_uuid_ = Uuid{};
    WB_RETURN_IF_ERROR(Save());
    return up;
  }
  WB_RETURN_IF_ERROR(WriteInfoBlock(mode));
  mode_ = mode;
  dax_uuid_ = mode == PmemMode::kDevdax ? WarmbootDaxUuid(Identity()) : Uuid{};
  return Save();
}

std::string SimulatedPmem::Identity() const {
  return labeled_ ? "5b7e0a3c-0000-4000-8000-00000000cafe" : "legacy@0x7f000000";
}

Status SimulatedPmem::AdminReconfigure(PmemMode mode) {
  if (mode_ == PmemMode::kSystemRam) return Status(Code::kBusy, "dax0.0 is bound to kmem");
  if (mode != PmemMode::kFsdax && mode != PmemMode::kDevdax && mode != PmemMode::kRaw) {
    return InvalidArgument("an administrator makes it fsdax, devdax or raw");
  }
  WB_RETURN_IF_ERROR(WriteInfoBlock(mode == PmemMode::kRaw ? PmemMode::kRaw : PmemMode::kDevdax));
  mode_ = mode;
  dax_uuid_ = mode == PmemMode::kDevdax ? RandomUuid() : Uuid{};
  return Save();
}

Result<std::unique_ptr<Media>> SimulatedPmem::OpenRawMedia(OpenMode mode) {
  WB_RETURN_IF_ERROR(Injected(PmemStep::kOpenRaw));
  if (mode_ != PmemMode::kRaw) {
    return InvalidArgument("namespace0.0 is in " + std::string(PmemModeName(mode_)) +
                           " mode, not raw: no /dev/pmem0 to open");
  }
  FileMediaOptions options;
  options.mode = mode == OpenMode::kCreate ? OpenMode::kReadWrite : mode;
  WB_ASSIGN_OR_RETURN(std::unique_ptr<Media> media, OpenFileMedia(image_path_, options));
  media->SetKnownBadRanges(bad_ranges_);
  if (write_budget_ >= 0) {
    return std::unique_ptr<Media>(
        new PowerCutMedia(std::move(media), static_cast<uint64_t>(write_budget_)));
  }
  return media;
}

Result<std::vector<ByteRange>> SimulatedPmem::KnownBadRanges() {
  WB_RETURN_IF_ERROR(Injected(PmemStep::kBadRanges));
  return bad_ranges_;
}

Status SimulatedPmem::ClearErrors(const std::vector<ByteRange>& ranges) {
  WB_RETURN_IF_ERROR(Injected(PmemStep::kClearErrors));
  // Clearing poison writes zeros over the range, as the pmem driver does.
  int fd = ::open(image_path_.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot open " + image_path_, errno);
  for (const ByteRange& r : ranges) {
    std::vector<uint8_t> zeros(r.length, 0);
    if (::pwrite(fd, zeros.data(), zeros.size(), static_cast<off_t>(r.offset)) < 0) {
      int err = errno;
      ::close(fd);
      return ErrnoError("cannot clear errors", err);
    }
    std::erase_if(bad_ranges_, [&](const ByteRange& b) { return b.Overlaps(r.offset, r.length); });
  }
  ::close(fd);
  return Save();
}

Status SimulatedPmem::SetLabelName(const std::string& name) {
  WB_RETURN_IF_ERROR(Injected(PmemStep::kSetLabel));
  if (!labeled_)
    return Unsupported("namespace0.0 has no label (legacy pmem): cannot record a name");
  label_name_ = name;
  // A raw namespace is taken down for the rename and brought back up.
  if (Status up = Injected(PmemStep::kEnableNamespace); !up.ok()) {
    if (mode_ == PmemMode::kRaw) mode_ = PmemMode::kDisabled;
    WB_RETURN_IF_ERROR(Save());
    return up;
  }
  return Save();
}

Status SimulatedPmem::EnableNamespace() {
  if (mode_ != PmemMode::kDisabled) return Status::Ok();
  WB_RETURN_IF_ERROR(Injected(PmemStep::kEnableNamespace));
  mode_ = PmemMode::kRaw;  // raw enforced: whatever the info block says
  dax_uuid_ = Uuid{};
  return Save();
}

void SimulatedPmem::SetBlockHangs(uint64_t index, bool hangs) {
  for (Block& b : blocks_) {
    if (b.index == index) b.hangs = hangs;
  }
  (void)Save();
}

void SimulatedPmem::SetBootPolicy(const std::string& policy) {
  boot_policy_ = policy;
  policy_ = policy;
  (void)Save();
}

// As blkid would: the ext4 superblock magic at 1080, XFS's at 0.
std::string SimulatedPmem::ForeignSignature() const {
  uint8_t b[1082] = {};
  int fd = ::open(image_path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  ssize_t n = ::pread(fd, b, sizeof b, 0);
  ::close(fd);
  if (n != static_cast<ssize_t>(sizeof b)) return "";
  if (b[1080] == 0x53 && b[1081] == 0xef) return "ext4";
  if (std::memcmp(b, "XFSB", 4) == 0) return "xfs";
  return "";
}

}  // namespace warmboot
