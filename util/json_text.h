// Byte strings as JSON text. File names, symlink targets, the kernel release and command lines
// are bytes with no imposed encoding; JSON text is UTF-8, and nlohmann's dump() throws on
// anything else. The rule (docs/format.md 2.6, docs/cli.md "Common options and output"):
//
//   * bytes that are valid UTF-8 are written as they are;
//   * otherwise every byte that does not begin a well-formed UTF-8 sequence is written as the
//     four characters \xHH (lowercase hex) and every backslash as \\ (two backslashes), so the
//     text is valid UTF-8 and the bytes can be recovered exactly;
//   * a field of an image report whose bytes were escaped has a sibling "<field>_escaped": true
//     (SetBytesField); without the flag the string is the bytes themselves.
//
// DumpJson applies the same escaping, without flags, to every string a document still holds
// that is not UTF-8 (messages that quote a name, paths given on the command line), so no JSON
// this program prints or writes can be invalid or make dump() throw.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace warmboot {

// Well-formed UTF-8 (Unicode 15, table 3-7): no overlong forms, surrogates or code points
// above U+10FFFF. NUL is valid.
bool IsValidUtf8(std::string_view bytes);

// The rule above: `bytes` itself when valid UTF-8, else the escaped form.
std::string EscapeNonUtf8(std::string_view bytes);
// The inverse of the escaped form (for a field marked "_escaped"). Malformed escapes are kept
// as they are.
std::string UnescapeNonUtf8(std::string_view text);

// j[key] = bytes, escaped when not UTF-8, and then also j[key + "_escaped"] = true.
void SetBytesField(nlohmann::json& j, const std::string& key, std::string_view bytes);

// Appends `bytes` as a JSON string (quoted; escaped by the rule above when not UTF-8), for
// replies written as text on a hot path. Parses to what DumpJson would have written.
void AppendJsonString(std::string& out, std::string_view bytes);

// `j` with every string and object key that is not UTF-8 escaped (no flags added).
nlohmann::json JsonSafe(const nlohmann::json& j);
// JsonSafe(j).dump(indent): never throws on the bytes inside.
std::string DumpJson(const nlohmann::json& j, int indent = -1);

// Fields of a document read back (a report, a record: files, the medium), which may be
// damaged: the value when `key` is there with the right type, else the fallback. nlohmann's
// value() throws on a wrong type.
inline std::string JsonString(const nlohmann::json& j, const char* key) {
  auto it = j.is_object() ? j.find(key) : j.end();
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}
inline int64_t JsonInt(const nlohmann::json& j, const char* key) {
  auto it = j.is_object() ? j.find(key) : j.end();
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}
inline double JsonNumber(const nlohmann::json& j, const char* key) {
  auto it = j.is_object() ? j.find(key) : j.end();
  return it != j.end() && it->is_number() ? it->get<double>() : 0;
}
inline bool JsonBool(const nlohmann::json& j, const char* key, bool fallback = false) {
  auto it = j.is_object() ? j.find(key) : j.end();
  return it != j.end() && it->is_boolean() ? it->get<bool>() : fallback;
}
// A phase's seconds (util/phase_log.h's JSON form).
inline double PhaseSeconds(const nlohmann::json& phase) {
  return JsonNumber(phase, "seconds");
}

}  // namespace warmboot
