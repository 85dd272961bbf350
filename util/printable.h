// Bytes from an image or the file system shown on a terminal. A file name may hold any byte
// but '/' and NUL: raw, an escape sequence in a name could rewrite the operator's screen, and a
// newline could forge a line of output. Printable shows valid UTF-8 as it is, and every byte
// that is a control character (C0, DEL) or not part of well-formed UTF-8 as \xHH, a backslash
// as \\ (the escaped form of util/json_text.h, extended to control characters).
#pragma once

#include <string>
#include <string_view>

namespace warmboot {

// `keep_newlines`: messages of several lines keep their '\n' (names never do).
std::string Printable(std::string_view bytes, bool keep_newlines = false);

}  // namespace warmboot
