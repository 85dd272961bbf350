#include "util/printable.h"

#include "util/json_text.h"

namespace warmboot {
namespace {

// The length of the well-formed UTF-8 sequence at bytes[i], or 0.
size_t SequenceAt(std::string_view bytes, size_t i) {
  const unsigned char lead = static_cast<unsigned char>(bytes[i]);
  const size_t n = lead < 0x80                    ? 1
                   : lead >= 0xc2 && lead <= 0xdf ? 2
                   : lead >= 0xe0 && lead <= 0xef ? 3
                   : lead >= 0xf0 && lead <= 0xf4 ? 4
                                                  : 0;
  if (n == 0 || i + n > bytes.size()) return 0;
  return IsValidUtf8(bytes.substr(i, n)) ? n : 0;
}

}  // namespace

std::string Printable(std::string_view bytes, bool keep_newlines) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size());
  auto hex = [&](unsigned char b) {
    out += "\\x";
    out += kHex[b >> 4];
    out += kHex[b & 15];
  };
  for (size_t i = 0; i < bytes.size();) {
    const unsigned char c = static_cast<unsigned char>(bytes[i]);
    const size_t n = SequenceAt(bytes, i);
    if (n == 1) {
      if (c == '\\') {
        out += "\\\\";
      } else if (c == 0x7f || (c < 0x20 && !(keep_newlines && c == '\n'))) {
        hex(c);
      } else {
        out += static_cast<char>(c);
      }
    } else if (n == 2 && c == 0xc2 && static_cast<unsigned char>(bytes[i + 1]) < 0xa0) {
      // U+0080..U+009F, the C1 controls: U+009B is a terminal's CSI.
      hex(c);
      hex(static_cast<unsigned char>(bytes[i + 1]));
    } else if (n > 1) {
      out.append(bytes.substr(i, n));
    } else {
      hex(c);
      i += 1;
      continue;
    }
    i += n;
  }
  return out;
}

}  // namespace warmboot
