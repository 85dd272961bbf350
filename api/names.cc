#include "api/names.h"

#include "util/json_text.h"
#include "util/printable.h"

namespace warmboot::api {

Status CheckName(std::string_view what, std::string_view name) {
  const std::string quoted = "'" + Printable(name.substr(0, 64)) + "'";
  if (name.empty()) return InvalidArgument(std::string(what) + " is empty");
  if (name.size() > kMaxNameBytes) {
    return InvalidArgument(std::string(what) + " " + quoted + "... is " +
                           std::to_string(name.size()) + " bytes; at most 255 are allowed");
  }
  if (!IsValidUtf8(name))
    return InvalidArgument(std::string(what) + " " + quoted + " is not UTF-8");
  if (name == "." || name == "..") {
    return InvalidArgument(std::string(what) + " " + quoted + " is not allowed");
  }
  for (size_t i = 0; i < name.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(name[i]);
    const bool c1 = c == 0xc2 && i + 1 < name.size() &&
                    static_cast<unsigned char>(name[i + 1]) < 0xa0;  // U+0080..U+009F
    if (c < 0x20 || c == 0x7f || c1) {
      return InvalidArgument(std::string(what) + " " + quoted + " holds a control character");
    }
    if (c == '/') return InvalidArgument(std::string(what) + " " + quoted + " holds a '/'");
  }
  return Status::Ok();
}

}  // namespace warmboot::api
