#include "util/json_text.h"

#include <cstdint>
#include <cstring>
#include <vector>

namespace warmboot {
namespace {

// Length of the well-formed UTF-8 sequence starting at s[i], or 0 when there is none.
size_t SequenceLength(std::string_view s, size_t i) {
  auto at = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b = at(i);
  if (b < 0x80) return 1;
  size_t len;
  unsigned char lo = 0x80, hi = 0xbf;  // the range of the second byte
  if (b >= 0xc2 && b <= 0xdf) {
    len = 2;
  } else if (b >= 0xe0 && b <= 0xef) {
    len = 3;
    if (b == 0xe0) lo = 0xa0;  // no overlong forms
    if (b == 0xed) hi = 0x9f;  // no surrogates
  } else if (b >= 0xf0 && b <= 0xf4) {
    len = 4;
    if (b == 0xf0) lo = 0x90;  // no overlong forms
    if (b == 0xf4) hi = 0x8f;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  if (s.size() - i < len) return 0;
  if (at(i + 1) < lo || at(i + 1) > hi) return 0;
  for (size_t k = 2; k < len; ++k) {
    if (at(i + k) < 0x80 || at(i + k) > 0xbf) return 0;
  }
  return len;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void MakeSafe(nlohmann::json& j) {
  if (j.is_string()) {
    std::string& s = j.get_ref<std::string&>();
    if (!IsValidUtf8(s)) s = EscapeNonUtf8(s);
  } else if (j.is_array()) {
    for (nlohmann::json& v : j) MakeSafe(v);
  } else if (j.is_object()) {
    std::vector<std::string> bad_keys;
    for (auto it = j.begin(); it != j.end(); ++it) {
      MakeSafe(it.value());
      if (!IsValidUtf8(it.key())) bad_keys.push_back(it.key());
    }
    for (const std::string& k : bad_keys) {
      nlohmann::json v = std::move(j[k]);
      j.erase(k);
      j[EscapeNonUtf8(k)] = std::move(v);
    }
  }
}

// Whether MakeSafe would change anything in `j`.
bool NeedsEscape(const nlohmann::json& j) {
  if (j.is_string()) return !IsValidUtf8(j.get_ref<const std::string&>());
  if (j.is_array()) {
    for (const nlohmann::json& v : j) {
      if (NeedsEscape(v)) return true;
    }
  } else if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (!IsValidUtf8(it.key()) || NeedsEscape(it.value())) return true;
    }
  }
  return false;
}

}  // namespace

bool IsValidUtf8(std::string_view bytes) {
  for (size_t i = 0; i < bytes.size();) {
    // ASCII eight bytes at a time: most names and messages, and JSON text, are nothing else.
    // DumpJson checks every string of every document, and the fuzz targets each whole text.
    uint64_t word;
    if (bytes.size() - i >= sizeof word) {
      std::memcpy(&word, bytes.data() + i, sizeof word);
      if ((word & 0x8080808080808080ull) == 0) {
        i += sizeof word;
        continue;
      }
    }
    size_t n = SequenceLength(bytes, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string EscapeNonUtf8(std::string_view bytes) {
  if (IsValidUtf8(bytes)) return std::string(bytes);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() + 16);
  for (size_t i = 0; i < bytes.size();) {
    if (bytes[i] == '\\') {
      out += "\\\\";
      ++i;
      continue;
    }
    size_t n = SequenceLength(bytes, i);
    if (n != 0) {
      out.append(bytes.substr(i, n));
      i += n;
      continue;
    }
    const unsigned char b = static_cast<unsigned char>(bytes[i++]);
    out += "\\x";
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

std::string UnescapeNonUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size() && text[i + 1] == '\\') {
      out += '\\';
      ++i;
    } else if (text[i] == '\\' && i + 3 < text.size() && text[i + 1] == 'x' &&
               HexValue(text[i + 2]) >= 0 && HexValue(text[i + 3]) >= 0) {
      out += static_cast<char>(HexValue(text[i + 2]) * 16 + HexValue(text[i + 3]));
      i += 3;
    } else {
      out += text[i];
    }
  }
  return out;
}

void SetBytesField(nlohmann::json& j, const std::string& key, std::string_view bytes) {
  if (IsValidUtf8(bytes)) {
    j[key] = std::string(bytes);
    return;
  }
  j[key] = EscapeNonUtf8(bytes);
  j[key + "_escaped"] = true;
}

nlohmann::json JsonSafe(const nlohmann::json& j) {
  nlohmann::json out = j;
  MakeSafe(out);
  return out;
}

void AppendJsonString(std::string& out, std::string_view bytes) {
  std::string escaped;
  if (!IsValidUtf8(bytes)) {
    escaped = EscapeNonUtf8(bytes);
    bytes = escaped;
  }
  out += '"';
  for (char c : bytes) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      static const char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  out += '"';
}

std::string DumpJson(const nlohmann::json& j, int indent) {
  // Replacing is only a backstop: JsonSafe leaves no ill-formed string to replace. Almost every
  // document is UTF-8 throughout (SetBytesField has escaped the image's bytes already), so the
  // copy JsonSafe makes is only made when a string still needs it.
  constexpr auto kReplace = nlohmann::json::error_handler_t::replace;
  if (!NeedsEscape(j)) return j.dump(indent, ' ', false, kReplace);
  return JsonSafe(j).dump(indent, ' ', false, kReplace);
}

}  // namespace warmboot
