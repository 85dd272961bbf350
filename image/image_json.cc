#include "image/image_json.h"

#include "util/json_text.h"

namespace warmboot {

using nlohmann::json;

// Byte strings from the image (names, targets, the kernel release) go through SetBytesField:
// UTF-8 as it is, anything else escaped and flagged (util/json_text.h, docs/format.md 2.6).
json ToJson(const format::Header& h) {
  json j{{"version", std::to_string(h.major) + "." + std::to_string(h.minor)},
         {"uuid", format::UuidToString(h.image_uuid)},
         {"generation", h.generation},
         {"writer_boot_id", format::UuidToString(h.writer_boot_id)},
         {"created_ns", h.created_ns},
         {"chunk_size", h.chunk_size},
         {"capacity", h.capacity},
         {"segments", h.segment_count},
         {"chunks", h.chunk_count},
         {"raw_bytes", h.total_raw_bytes},
         {"stored_bytes", h.total_stored_bytes},
         {"image_bytes", h.image_end}};
  SetBytesField(j, "kernel_release", h.kernel_release);
  return j;
}

json ToJson(const format::Seal& s) {
  json j{{"state", s.state == format::SealState::kConsumed ? "consumed" : "sealed"},
         {"sealed_ns", s.sealed_ns}};
  if (s.state == format::SealState::kConsumed) j["consumed_ns"] = s.consumed_ns;
  return j;
}

json ToJson(const PackReport& r) {
  return json{{"uuid", format::UuidToString(r.image_uuid)},
              {"generation", r.generation},
              {"files", r.files},
              {"directories", r.directories},
              {"symlinks", r.symlinks},
              {"chunks", r.chunks},
              {"zero_chunks", r.zero_chunks},
              {"zstd_chunks", r.zstd_chunks},
              {"raw_chunks", r.raw_chunks},
              {"raw_bytes", r.raw_bytes},
              {"stored_bytes", r.stored_bytes},
              {"image_bytes", r.image_bytes},
              {"capacity", r.capacity},
              {"data_alignment", r.data_alignment},
              {"seconds", r.seconds}};
}

json ToJson(const DamagedSegment& d) {
  json ranges = json::array();
  for (const ByteRange& r : d.damaged_ranges)
    ranges.push_back({{"offset", r.offset}, {"length", r.length}});
  json j{{"segment", d.index}, {"path", nullptr}, {"reason", d.reason}, {"damaged_ranges", ranges}};
  if (!d.path.empty()) SetBytesField(j, "path", d.path);
  if (!d.quarantined_as.empty()) SetBytesField(j, "quarantined_as", d.quarantined_as);
  return j;
}

json DamageReportJson(const VerifyReport& r) {
  json damaged = json::array();
  for (const DamagedSegment& d : r.damaged) damaged.push_back(ToJson(d));
  return json{{"image_uuid", format::UuidToString(r.header.image_uuid)},
              {"damaged", damaged},
              {"image_problems", r.image_problems}};
}

json ToJson(const VerifyReport& r) {
  json j = DamageReportJson(r);
  j.erase("image_uuid");
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
    json e{{"segment", p.index}, {"problem", p.problem}};
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
    json j{{"index", s.index}, {"record_ok", s.record_ok}};
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
  json j{{"image", ToJson(r.header)},
         {"state", ImageStateName(r.state)},
         {"tables_ok", r.tables_ok},
         {"segments", segs}};
  if (r.seal) j["seal"] = ToJson(*r.seal);
  if (!r.seal_problem.empty()) j["seal_problem"] = r.seal_problem;
  double ratio = r.header.total_stored_bytes
                     ? double(r.header.total_raw_bytes) / double(r.header.total_stored_bytes)
                     : 0.0;
  j["compression_ratio"] = ratio;
  return j;
}

}  // namespace warmboot
