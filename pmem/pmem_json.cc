#include "pmem/pmem_json.h"

namespace warmboot {

using nlohmann::json;

json ToJson(const PmemInfo& info) {
  json blocks = json::array();
  for (const MemoryBlockState& b : info.blocks) {
    blocks.push_back({{"index", b.index}, {"online", b.online}, {"zone", b.zone}});
  }
  json j{{"namespace", info.name},
         {"region", info.region},
         {"mode", PmemModeName(info.mode)},
         {"size", info.size},
         {"numa_node", info.numa_node},
         {"target_node", info.target_node},
         {"memory_block_size", info.memory_block_size},
         {"blocks_online", info.OnlineBlocks()},
         {"blocks_total", info.blocks.size()},
         {"blocks", blocks},
         {"labeled", info.labeled}};
  if (!info.block_device.empty()) j["block_device"] = info.block_device;
  if (!info.dax_device.empty()) j["dax_device"] = info.dax_device;
  if (!info.label_name.empty()) j["label_name"] = info.label_name;
  if (!info.identity.empty()) j["identity"] = info.identity;
  if (info.dax_uuid != Uuid{}) j["dax_uuid"] = UuidToString(info.dax_uuid);
  if (!info.foreign_signature.empty()) j["foreign_signature"] = info.foreign_signature;
  if (info.phys_start != 0) j["phys_start"] = info.phys_start;
  return j;
}

}  // namespace warmboot
