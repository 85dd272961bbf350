// Walks a state directory into the list of entries an image records: directories before their
// contents, names sorted, so images of the same tree are laid out the same way.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "image/format.h"
#include "util/status.h"

namespace warmboot {

struct StateEntry {
  std::string path;  // relative, '/'-separated, never empty, never "." or ".."
  format::EntryType type = format::EntryType::kFile;
  uint32_t mode = 0;
  uint32_t uid = 0, gid = 0;
  int64_t mtime_ns = 0;
  // Not recorded in the image: pack compares it (with size and mtime) after every chunk it
  // reads, to catch a file rewritten in place while being packed.
  int64_t ctime_ns = 0;
  uint64_t size = 0;
  std::string target;  // symlinks
  // Files with holes: one flag per chunk, set where the chunk lies wholly in a hole and so is
  // known to be zero without reading it. Empty for dense files.
  std::vector<bool> hole_chunks;
  // Files packed from a descriptor rather than from the state directory (ExtraEntry in
  // image/image.h): borrowed, read with pread, open until the pack ends. -1 otherwise.
  int fd = -1;
};

// Fails naming the entry for anything an image cannot carry (sockets, devices, FIFOs, names
// too long) so the caller learns it before anything is written.
Result<std::vector<StateEntry>> ScanStateTree(const std::string& root, uint32_t chunk_size);

}  // namespace warmboot
