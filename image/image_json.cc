#include "image/image_json.h"

#include "util/json_text.h"

namespace warmboot {

using nlohmann::json;

// Byte strings from the image (names, targets, the kernel release) go through SetBytesField:
// UTF-8 as it is, anything else escaped and flagged (util/json_text.h, docs/format.md 2.6).
//
// Objects are filled field by field: a braced list ({{"key", value}, ...}) first makes every
// pair a two-element array holding a heap string, then moves them into the object, three times
// the allocations of assigning the fields. The reports are built for every image the fuzz
// target reads (fuzz/image_target.cc), under ASan, where that dominated. Keys are sorted either
// way (std::map), so the text is the same.
json ToJson(const format::Header& h) {
  json j = json::object();
  j["version"] = std::to_string(h.major) + "." + std::to_string(h.minor);
  j["uuid"] = format::UuidToString(h.image_uuid);
  j["generation"] = h.generation;
  j["writer_boot_id"] = format::UuidToString(h.writer_boot_id);
  j["created_ns"] = h.created_ns;
  j["chunk_size"] = h.chunk_size;
  j["capacity"] = h.capacity;
  j["segments"] = h.segment_count;
  j["chunks"] = h.chunk_count;
  j["raw_bytes"] = h.total_raw_bytes;
  j["stored_bytes"] = h.total_stored_bytes;
  j["image_bytes"] = h.image_end;
  SetBytesField(j, "kernel_release", h.kernel_release);
  return j;
}

json ToJson(const format::Seal& s) {
  json j = json::object();
  j["state"] = s.state == format::SealState::kConsumed ? "consumed" : "sealed";
  j["sealed_ns"] = s.sealed_ns;
  if (s.state == format::SealState::kConsumed) j["consumed_ns"] = s.consumed_ns;
  return j;
}

json ToJson(const PackReport& r) {
  json j = json::object();
  j["uuid"] = format::UuidToString(r.image_uuid);
  j["generation"] = r.generation;
  j["files"] = r.files;
  j["directories"] = r.directories;
  j["symlinks"] = r.symlinks;
  j["chunks"] = r.chunks;
  j["zero_chunks"] = r.zero_chunks;
  j["zstd_chunks"] = r.zstd_chunks;
  j["raw_chunks"] = r.raw_chunks;
  j["raw_bytes"] = r.raw_bytes;
  j["stored_bytes"] = r.stored_bytes;
  j["image_bytes"] = r.image_bytes;
  j["capacity"] = r.capacity;
  j["data_alignment"] = r.data_alignment;
  j["seconds"] = r.seconds;
  return j;
}

json ToJson(const DamagedSegment& d) {
  json ranges = json::array();
  for (const ByteRange& r : d.damaged_ranges) {
    json range = json::object();
    range["offset"] = r.offset;
    range["length"] = r.length;
    ranges.push_back(std::move(range));
  }
  json j = json::object();
  j["segment"] = d.index;
  j["path"] = nullptr;
  j["reason"] = d.reason;
  j["damaged_ranges"] = std::move(ranges);
  if (!d.path.empty()) SetBytesField(j, "path", d.path);
  if (!d.quarantined_as.empty()) SetBytesField(j, "quarantined_as", d.quarantined_as);
  return j;
}

namespace {

// The damage of a report, into `j`.
void AddDamage(json& j, const VerifyReport& r) {
  json damaged = json::array();
  for (const DamagedSegment& d : r.damaged) damaged.push_back(ToJson(d));
  j["damaged"] = std::move(damaged);
  j["image_problems"] = r.image_problems;
}

}  // namespace

json DamageReportJson(const VerifyReport& r) {
  json j = json::object();
  j["image_uuid"] = format::UuidToString(r.header.image_uuid);
  AddDamage(j, r);
  return j;
}

json ToJson(const VerifyReport& r) {
  json j = json::object();
  AddDamage(j, r);
  j["image"] = ToJson(r.header);
  j["seal"] = ToJson(r.seal);
  j["segments"] = r.segments;
  j["chunks_verified"] = r.chunks_verified;
  j["bytes_verified"] = r.bytes_verified;
  j["partial"] = r.partial();
  j["seconds"] = r.seconds;
  return j;
}

json ToJson(const UnpackReport& r) {
  json j = ToJson(static_cast<const VerifyReport&>(r));
  j["files"] = r.files;
  j["directories"] = r.directories;
  j["symlinks"] = r.symlinks;
  j["bytes_written"] = r.bytes_written;
  j["consumed"] = r.consumed;
  json problems = json::array();
  for (const MetadataProblem& p : r.metadata_problems) {
    json e = json::object();
    e["segment"] = p.index;
    e["problem"] = p.problem;
    SetBytesField(e, "path", p.path);
    problems.push_back(std::move(e));
  }
  j["metadata_problems"] = std::move(problems);
  if (!r.quarantine_report.empty()) j["quarantine_report"] = r.quarantine_report;
  return j;
}

json ToJson(const InspectReport& r) {
  json segs = json::array();
  for (const SegmentInfo& s : r.segments) {
    json j = json::object();
    j["index"] = s.index;
    j["record_ok"] = s.record_ok;
    if (!s.record_ok) {
      j["problem"] = s.problem;
    } else {
      SetBytesField(j, "path", s.path);
      j["type"] = format::EntryTypeName(s.type);
      if (s.type == format::EntryType::kSymlink) SetBytesField(j, "target", s.target);
      j["mode"] = s.mode;
      j["uid"] = s.uid;
      j["gid"] = s.gid;
      j["mtime_ns"] = s.mtime_ns;
      j["size"] = s.size;
      j["chunks"] = s.chunks;
      j["zero_chunks"] = s.zero_chunks;
      j["zstd_chunks"] = s.zstd_chunks;
      j["stored_bytes"] = s.stored_bytes;
    }
    segs.push_back(std::move(j));
  }
  json j = json::object();
  j["image"] = ToJson(r.header);
  j["state"] = ImageStateName(r.state);
  j["tables_ok"] = r.tables_ok;
  j["segments"] = std::move(segs);
  if (r.seal) j["seal"] = ToJson(*r.seal);
  if (!r.seal_problem.empty()) j["seal_problem"] = r.seal_problem;
  double ratio = r.header.total_stored_bytes
                     ? double(r.header.total_raw_bytes) / double(r.header.total_stored_bytes)
                     : 0.0;
  j["compression_ratio"] = ratio;
  return j;
}

}  // namespace warmboot
