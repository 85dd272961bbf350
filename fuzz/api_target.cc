// The checkpoint API's frame decoder (docs/api.md section 2) and name rules, from arbitrary
// bytes fed in arbitrary pieces: never a crash; every frame it accepts re-encodes to a frame
// that decodes to the same body and data; once broken it stays broken and yields nothing.
#include <string>

#include "api/names.h"
#include "api/wire.h"
#include "fuzz/check.h"
#include "fuzz/targets.h"

namespace warmboot::fuzz {

int FuzzApi(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  // The first byte picks the piece size the stream is fed in (1 to 256 bytes).
  const size_t piece = size_t{data[0]} + 1;
  std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  api::FrameDecoder d;
  size_t frames = 0;
  for (size_t off = 0; off < stream.size(); off += piece) {
    d.Feed(stream.substr(off, piece));
    while (auto f = d.Next()) {
      ++frames;
      WB_FUZZ_CHECK(f->body.is_object() && f->body["op"].is_string(), "a frame without an op");
      WB_FUZZ_CHECK(f->fd_count <= api::kMaxFds && f->data.size() <= api::kMaxData,
                    "a frame over the limits");
      (void)api::CheckName("segment name", f->body["op"].get<std::string>());
      auto again = api::EncodeFrame(*f);
      if (!again.ok()) continue;  // a body that re-dumps longer (escapes) may not fit
      api::FrameDecoder d2;
      d2.Feed(*again);
      auto g = d2.Next();
      WB_FUZZ_CHECK(g && g->body == f->body && g->data == f->data && g->fd_count == f->fd_count,
                    "a frame does not survive re-encoding");
    }
    if (!d.status().ok()) {
      WB_FUZZ_CHECK(d.pending() == 0 && !d.Next(), "a broken decoder still yields");
      break;
    }
  }
  (void)frames;
  return 0;
}

}  // namespace warmboot::fuzz
