#include "daemon/journal.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>
#include <optional>

#include "api/names.h"
#include "util/io.h"
#include "util/json_text.h"

namespace warmboot::daemon {

using nlohmann::json;

Result<Journal> Journal::Create(uint64_t generation) {
  UniqueFd fd(::memfd_create("warmbootd-journal", MFD_CLOEXEC));
  if (!fd.valid()) return ErrnoError("cannot create the fd store's journal", errno);
  Journal j(std::move(fd), generation);
  if (Status s = j.Append(json{{"warmbootd_journal", 1}, {"generation", generation}}.dump());
      !s.ok()) {
    return s;
  }
  return j;
}

Status Journal::Append(const std::string& line) {
  std::string l = line + "\n";
  if (int err = WriteAll(fd_.get(), l.data(), l.size()); err != 0) {
    return ErrnoError("cannot write the fd store's journal", err);
  }
  ++lines_;
  return Status::Ok();
}

Status Journal::Put(const Entry& e) {
  const SegmentEntry& s = e.segment;
  return Append(json{
      {"put", s.id},
      {"uid", s.owner.uid},
      {"app", s.owner.app},
      {"segment", s.name},
      {"kind", SegmentKindName(s.kind)},
      {"size", s.size},
      {"sealed", e.sealed},
      {"mtime_ns", e.mtime_ns},
      {"ctime_ns", e.ctime_ns},
      {"gid",
       e.gid}}.dump(-1, ' ', false, json::error_handler_t::replace));
}

Status Journal::Drop(uint64_t id) {
  return Append(json{{"drop", id}}.dump());
}

namespace {

// One put line, or nullopt when it is not one (names checked as at hand-over).
std::optional<Journal::Entry> ParsePut(const json& j) {
  Journal::Entry e;
  SegmentEntry& s = e.segment;
  try {
    s.id = j.at("put").get<uint64_t>();
    s.owner.uid = j.at("uid").get<uid_t>();
    s.owner.app = j.at("app").get<std::string>();
    s.name = j.at("segment").get<std::string>();
    const std::string kind = j.at("kind").get<std::string>();
    if (kind != "bytes" && kind != "fd") return std::nullopt;
    s.kind = kind == "bytes" ? SegmentKind::kBytes : SegmentKind::kFd;
    s.size = j.at("size").get<uint64_t>();
    e.sealed = j.at("sealed").get<bool>();
    e.mtime_ns = j.at("mtime_ns").get<int64_t>();
    e.ctime_ns = j.at("ctime_ns").get<int64_t>();
    e.gid = j.contains("gid") ? j.at("gid").get<gid_t>() : 0;  // older journals have none
  } catch (const json::exception&) {
    return std::nullopt;
  }
  if (s.id == 0 || !api::CheckName("application name", s.owner.app).ok() ||
      !api::CheckName("segment name", s.name).ok()) {
    return std::nullopt;
  }
  return e;
}

}  // namespace

Result<Journal::Contents> Journal::Read(int fd) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return ErrnoError("cannot stat the fd store's journal", errno);
  std::string text(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  if (int err = PreadFull(fd, text.data(), text.size(), 0, &got); err != 0) {
    return ErrnoError("cannot read the fd store's journal", err);
  }
  text.resize(got);
  Contents c;
  size_t pos = 0;
  bool header = false;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) {  // torn by a crash mid-append
      ++c.bad_lines;
      break;
    }
    json j = json::parse(text.begin() + static_cast<std::ptrdiff_t>(pos),
                         text.begin() + static_cast<std::ptrdiff_t>(end), nullptr, false);
    pos = end + 1;
    if (!header) {
      if (!j.is_object() || JsonInt(j, "warmbootd_journal") != 1 || !j.contains("generation") ||
          !j["generation"].is_number_unsigned()) {
        return InvalidArgument("not a warmbootd journal (its first line is not the header)");
      }
      c.generation = j["generation"].get<uint64_t>();
      header = true;
      continue;
    }
    if (j.is_object() && j.contains("drop") && j["drop"].is_number_unsigned()) {
      c.live.erase(j["drop"].get<uint64_t>());
    } else if (auto e = j.is_object() ? ParsePut(j) : std::nullopt) {
      c.live[e->segment.id] = *e;
    } else {
      ++c.bad_lines;
    }
  }
  if (!header) return InvalidArgument("not a warmbootd journal (it is empty)");
  return c;
}

}  // namespace warmboot::daemon
