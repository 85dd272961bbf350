// wb-simctl: drives the simulated pmem namespace from shell tests.
//   wb-simctl create DIR SIZE_MIB | reboot DIR [--cold] | busy DIR BLOCK TIMES |
//             hang DIR BLOCK | bad DIR OFFSET LENGTH | offline DIR
// offline takes every block offline and leaves it so (what a warm reboot that never happened
// leaves after warmboot reboot offlined early).
// reboot is a kexec from warmboot: the next boot's command line names the sealed image
// (warmboot.image=UUID); --cold boots without it, as through the firmware.
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>

#include "image/image.h"
#include "kexec/kexec.h"
#include "pmem/transitions.h"
#include "testing/sim_boot.h"
#include "testing/simulated_pmem.h"

using namespace warmboot;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: wb-simctl create DIR SIZE_MIB | reboot DIR [--cold] | "
                 "busy DIR BLOCK TIMES | hang DIR BLOCK | bad DIR OFFSET LENGTH | offline DIR\n";
    return 2;
  }
  std::string cmd = argv[1], dir = argv[2];
  if (cmd == "create" && argc == 4) {
    auto sim = SimulatedPmem::Create(dir, std::strtoull(argv[3], nullptr, 10) << 20);
    if (!sim.ok()) {
      std::cerr << sim.status().ToString() << "\n";
      return 1;
    }
    return 0;
  }
  auto sim = SimulatedPmem::Open(dir);
  if (!sim.ok()) {
    std::cerr << sim.status().ToString() << "\n";
    return 1;
  }
  if (cmd == "reboot" && (argc == 3 || (argc == 4 && std::string(argv[3]) == "--cold"))) {
    (*sim)->Reboot();
    ThisBoot boot;
    boot.boot_id = RandomUuid();
    boot.cmdline = "root=/dev/sim ro";
    if (argc == 3) {
      if (auto media = (*sim)->OpenRawMedia(OpenMode::kReadOnly); media.ok()) {
        auto image = InspectImage(**media, InspectDepth::kHeaderAndSeal);
        if (image.ok() && image->state == ImageState::kSealed) {
          boot.cmdline +=
              std::string(" ") + kImageTokenParam + "=" + UuidToString(image->header.image_uuid);
        }
      }
    }
    if (Status s = testing::WriteSimBoot(dir, boot); !s.ok()) {
      std::cerr << s.ToString() << "\n";
      return 1;
    }
  } else if (cmd == "busy" && argc == 5) {
    (*sim)->SetBlockBusy(std::strtoull(argv[3], nullptr, 10), std::atoi(argv[4]));
  } else if (cmd == "hang" && argc == 4) {
    (*sim)->SetBlockHangs(std::strtoull(argv[3], nullptr, 10), true);
  } else if (cmd == "offline" && argc == 3) {
    if (Status s = (*sim)->OfflineMemory(std::chrono::milliseconds(1000),
                                         std::chrono::milliseconds(60000));
        !s.ok()) {
      std::cerr << s.ToString() << "\n";
      return 1;
    }
  } else if (cmd == "bad" && argc == 5) {
    (*sim)->AddBadRange({std::strtoull(argv[3], nullptr, 10), std::strtoull(argv[4], nullptr, 10)});
  } else {
    std::cerr << "wb-simctl: bad command\n";
    return 2;
  }
  return 0;
}
