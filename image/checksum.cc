#include "image/checksum.h"

#include <xxh_x86dispatch.h>
#include <xxhash.h>

namespace warmboot {

uint64_t Hash64(const void* data, size_t length) {
  return XXH3_64bits_dispatch(data, length);
}

Hasher64::Hasher64() : state_(XXH3_createState()) {
  XXH3_64bits_reset(static_cast<XXH3_state_t*>(state_));
}
Hasher64::~Hasher64() {
  XXH3_freeState(static_cast<XXH3_state_t*>(state_));
}
void Hasher64::Update(const void* data, size_t length) {
  XXH3_64bits_update_dispatch(static_cast<XXH3_state_t*>(state_), data, length);
}
uint64_t Hasher64::Digest() const {
  return XXH3_64bits_digest(static_cast<const XXH3_state_t*>(state_));
}

}  // namespace warmboot
