#!/usr/bin/env python3
"""An independent reader for the warmboot on-media image format 1.0.

Written from docs/format.md alone (section numbers below refer to it), to check that the
specification is complete. It uses only the Python standard library; XXH3-64 is computed by the
`xxhsum` command-line tool (package xxhash, `xxhsum -H3`), and zstd chunks are decompressed by
the `zstd` command-line tool when it is installed (otherwise only their frame header is
checked).

usage: reference_reader.py IMAGE [--verify-data] [--any-state] [--chunks]

It parses and validates the header, seal and tables in the order of section 11, lists the
segments, and with --verify-data checks every chunk of every sound file segment (section 11.7).
Exit status follows the warmboot CLI: 0 intact, 3 partial (damaged segments or image problems),
4 no image, 1 other errors.
"""

import argparse
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

BLOCK = 4096
HEADER_OFFSET = 0
SEAL_OFFSET = 4096
DATA_OFFSET = 8192
BLOCK_CHECKSUM_OFFSET = 4088
HEADER_MAGIC = b"WARMBOOT"
SEAL_MAGIC = b"WBSEAL01"
MAJOR = 1
HEADER_SIZE_V1 = 272
KNOWN_INCOMPAT = 0
MIN_CHUNK, MAX_CHUNK = 4096, 64 << 20
SEGMENT_RECORD = 80
CHUNK_RECORD = 32
MAX_METADATA = 256 << 20
MAX_PATH = 4095
MAX_TARGET = 4095
ENTRY_TYPES = {1: "file", 2: "dir", 3: "symlink"}
CODECS = {0: "raw", 1: "zstd", 2: "zero"}
SEAL_STATES = {1: "sealed", 2: "consumed"}
ZSTD_MAGIC = 0xFD2FB528


class NoImage(Exception):
    """Outcome class "no image" (section 11.1): nothing may be restored."""


# ---------------------------------------------------------------------------------------------
# XXH3-64 (section 2.3) via `xxhsum -H3`, batched: one process hashes many byte strings.

_HASH_RE_BSD = re.compile(r"^XXH3 \((.*)\) = ([0-9a-fA-F]{16})$")
_HASH_RE_GNU = re.compile(r"^(?:XXH3_)?([0-9a-fA-F]{16})  (.*)$")


def xxh3_many(blobs):
    """XXH3-64 (seed 0) of each byte string, as integers."""
    if not blobs:
        return []
    if shutil.which("xxhsum") is None:
        sys.exit("reference_reader: the xxhsum tool (package xxhash) is required")
    tmp = tempfile.mkdtemp(prefix="wb-ref-")
    try:
        names = []
        for i, b in enumerate(blobs):
            name = os.path.join(tmp, "b%08d" % i)
            with open(name, "wb") as f:
                f.write(b)
            names.append(name)
        result = {}
        for start in range(0, len(names), 500):
            batch = names[start:start + 500]
            out = subprocess.run(["xxhsum", "-H3", *batch], check=True, capture_output=True,
                                 text=True).stdout
            for line in out.splitlines():
                m = _HASH_RE_BSD.match(line)
                if m:
                    result[m.group(1)] = int(m.group(2), 16)
                    continue
                m = _HASH_RE_GNU.match(line)
                if m:
                    result[m.group(2)] = int(m.group(1), 16)
        return [result[n] for n in names]
    finally:
        shutil.rmtree(tmp)


def xxh3(blob):
    return xxh3_many([blob])[0]


# ---------------------------------------------------------------------------------------------
# Little-endian field access (section 2.1).

def u8(b, o): return b[o]
def u16(b, o): return struct.unpack_from("<H", b, o)[0]
def u32(b, o): return struct.unpack_from("<I", b, o)[0]
def u64(b, o): return struct.unpack_from("<Q", b, o)[0]
def i64(b, o): return struct.unpack_from("<q", b, o)[0]


def uuid_text(b):
    h = b.hex()
    return "%s-%s-%s-%s-%s" % (h[0:8], h[8:12], h[12:16], h[16:20], h[20:32])


def within(off, length, lo, hi):
    """[off, off+length) lies in [lo, hi) (section 2.4); Python integers cannot overflow."""
    return off >= lo and off + length <= hi


def zstd_compress_bound(n):
    """Section 9.2: the largest stored_length a zstd chunk of n raw bytes may have."""
    return n + (n >> 8) + (((128 << 10) - n) >> 11 if n < (128 << 10) else 0)


class Medium:
    def __init__(self, path):
        self.f = open(path, "rb")
        self.f.seek(0, os.SEEK_END)
        self.size = self.f.tell()

    def read(self, off, n):
        if off + n > self.size:
            raise NoImage("read of %d bytes at %d is past the end of the medium" % (n, off))
        self.f.seek(off)
        data = self.f.read(n)
        if len(data) != n:
            raise NoImage("short read at %d" % off)
        return data


# ---------------------------------------------------------------------------------------------
# Header (section 4), seal (section 5).

def decode_header(blk, block_sum):
    if blk[0:8] != HEADER_MAGIC:
        raise NoImage("no image header (magic not found at offset 0)")
    if u64(blk, BLOCK_CHECKSUM_OFFSET) != block_sum:
        raise NoImage("image header is damaged (checksum mismatch)")
    h = {"major": u16(blk, 8), "minor": u16(blk, 10)}
    if h["major"] != MAJOR:
        raise NoImage("image format version %d.%d is not supported" % (h["major"], h["minor"]))
    h["header_size"] = u32(blk, 12)
    if h["header_size"] < HEADER_SIZE_V1:
        raise NoImage("header_size %d is smaller than 272" % h["header_size"])
    h["compat_flags"] = u64(blk, 16)
    h["incompat_flags"] = u64(blk, 24)
    if h["incompat_flags"] & ~KNOWN_INCOMPAT:
        raise NoImage("unknown incompat flags 0x%x" % h["incompat_flags"])
    h["image_uuid"] = bytes(blk[32:48])
    h["generation"] = u64(blk, 48)
    h["writer_boot_id"] = bytes(blk[56:72])
    kr = bytes(blk[72:136])
    h["kernel_release"] = kr.split(b"\0", 1)[0].decode("utf-8", "replace")
    h["created_ns"] = i64(blk, 136)
    h["chunk_size"] = u32(blk, 144)
    h["capacity"] = u64(blk, 152)
    for name, off in (("data_offset", 160), ("data_length", 168), ("segment_count", 176),
                      ("segment_table_offset", 184), ("chunk_count", 192),
                      ("chunk_table_offset", 200), ("names_offset", 208), ("names_length", 216),
                      ("segment_table_checksum", 224), ("chunk_table_checksum", 232),
                      ("names_checksum", 240), ("total_raw_bytes", 248),
                      ("total_stored_bytes", 256), ("image_end", 264)):
        h[name] = u64(blk, off)
    h["block_checksum"] = block_sum
    return h


def decode_seal(blk, block_sum):
    """Returns (seal, problem); problem is None when the seal block is valid (section 5.2)."""
    if blk[0:8] != SEAL_MAGIC:
        return None, "image is not sealed (no seal record at offset 4096)"
    if u64(blk, BLOCK_CHECKSUM_OFFSET) != block_sum:
        return None, "seal record is damaged (checksum mismatch)"
    s = {"major": u16(blk, 8), "minor": u16(blk, 10), "state": u32(blk, 12)}
    if s["major"] != MAJOR:
        return None, "seal format version %d is not supported" % s["major"]
    if s["state"] not in SEAL_STATES:
        return None, "seal record has an unknown state %d" % s["state"]
    s["image_uuid"] = bytes(blk[16:32])
    s["generation"] = u64(blk, 32)
    s["header_checksum"] = u64(blk, 40)
    s["image_end"] = u64(blk, 48)
    s["sealed_ns"] = i64(blk, 56)
    s["consumed_ns"] = i64(blk, 64)
    return s, None


def check_geometry(h, media_size):
    """Section 11.4."""
    if not MIN_CHUNK <= h["chunk_size"] <= MAX_CHUNK:
        raise NoImage("invalid chunk size %d" % h["chunk_size"])
    if h["image_end"] > media_size:
        raise NoImage("image truncated: ends at %d, medium has %d bytes"
                      % (h["image_end"], media_size))
    max_records = MAX_METADATA // CHUNK_RECORD
    seg_len = h["segment_count"] * SEGMENT_RECORD
    chk_len = h["chunk_count"] * CHUNK_RECORD
    if (h["segment_count"] > max_records or h["chunk_count"] > max_records
            or h["names_length"] > MAX_METADATA
            or seg_len + chk_len + h["names_length"] > MAX_METADATA):
        raise NoImage("image metadata is larger than 256 MiB")
    regions = [("data", h["data_offset"], h["data_length"]),
               ("segment table", h["segment_table_offset"], seg_len),
               ("chunk table", h["chunk_table_offset"], chk_len),
               ("names", h["names_offset"], h["names_length"])]
    for name, off, length in regions:
        if not within(off, length, DATA_OFFSET, h["image_end"]):
            raise NoImage("the %s lies outside [8192, image_end)" % name)
    for i in range(4):
        for j in range(i + 1, 4):
            a, b = regions[i], regions[j]
            if a[2] and b[2] and a[1] < b[1] + b[2] and b[1] < a[1] + a[2]:
                raise NoImage("the %s and the %s overlap" % (a[0], b[0]))


# ---------------------------------------------------------------------------------------------
# Chunk table (section 7), segment table (section 6).

def check_chunk(h, raw):
    """Structural problem of one chunk record, or "" (section 11.6)."""
    c = {"offset": u64(raw, 0), "stored_length": u32(raw, 8), "raw_length": u32(raw, 12),
         "hash": u64(raw, 16), "codec": u8(raw, 24)}
    if any(raw[25:32]):
        return c, "chunk record has non-zero reserved bytes"
    if c["codec"] == 2:
        return c, "" if c["stored_length"] == 0 else "zero chunk with stored bytes"
    if c["codec"] == 0:
        if c["stored_length"] != c["raw_length"]:
            return c, "raw chunk whose stored and raw sizes differ"
    elif c["codec"] == 1:
        if c["stored_length"] == 0 or c["stored_length"] > zstd_compress_bound(c["raw_length"]):
            return c, "compressed chunk with an impossible stored size"
    else:
        return c, "chunk with unknown codec %d" % c["codec"]
    if not within(c["offset"], c["stored_length"], h["data_offset"],
                  h["data_offset"] + h["data_length"]):
        return c, "chunk stored outside the data region"
    return c, ""


def validate_path(p):
    """Section 6.4, rule P; p is bytes."""
    if not p:
        return "empty path"
    if len(p) > MAX_PATH:
        return "path longer than 4095 bytes"
    if b"\0" in p:
        return "path contains a NUL byte"
    if p[:1] == b"/":
        return "absolute path"
    for comp in p.split(b"/"):
        if not comp:
            return "empty path component"
        if comp in (b".", b".."):
            return "'.' or '..' path component"
        if len(comp) > 255:
            return "path component longer than 255 bytes"
    return None


def load_tables(m, h):
    """Sections 11.5 to 11.7: returns (segments, chunks, chunk_problems, image_problems)."""
    segs = m.read(h["segment_table_offset"], h["segment_count"] * SEGMENT_RECORD)
    chunks_raw = m.read(h["chunk_table_offset"], h["chunk_count"] * CHUNK_RECORD)
    names = m.read(h["names_offset"], h["names_length"])
    sums = xxh3_many([segs, chunks_raw, names])
    tables_ok = (sums[0] == h["segment_table_checksum"] and sums[1] == h["chunk_table_checksum"]
                 and sums[2] == h["names_checksum"])

    chunks, problems = [], []
    for i in range(h["chunk_count"]):
        c, p = check_chunk(h, chunks_raw[i * CHUNK_RECORD:(i + 1) * CHUNK_RECORD])
        chunks.append(c)
        problems.append(p)
    order = sorted((i for i in range(len(chunks)) if not problems[i] and chunks[i]["stored_length"]),
                   key=lambda i: chunks[i]["offset"])
    max_end, max_owner = 0, None
    for b in order:  # against the furthest end so far, not just the neighbour
        if chunks[b]["offset"] < max_end:
            problems[max_owner] = problems[b] = "chunk overlaps another chunk on the medium"
        if chunks[b]["offset"] + chunks[b]["stored_length"] > max_end:
            max_end, max_owner = chunks[b]["offset"] + chunks[b]["stored_length"], b

    # Per-record checksums first, batched (each covers record[0:72] + path + target).
    records, to_hash = [], []
    for i in range(h["segment_count"]):
        raw = segs[i * SEGMENT_RECORD:(i + 1) * SEGMENT_RECORD]
        r = {"index": i, "type": u8(raw, 0), "path_length": u16(raw, 2),
             "target_length": u32(raw, 4), "mode": u32(raw, 8), "uid": u32(raw, 12),
             "gid": u32(raw, 16), "mtime_ns": i64(raw, 24), "size": u64(raw, 32),
             "first_chunk": u64(raw, 40), "chunk_count": u64(raw, 48),
             "name_offset": u64(raw, 56), "checksum": u64(raw, 72), "ok": True, "problem": ""}
        name_len = r["path_length"] + r["target_length"]
        if not within(r["name_offset"], name_len, 0, len(names)):
            r["ok"], r["problem"] = False, "segment record points outside the names region"
        else:
            nb = names[r["name_offset"]:r["name_offset"] + name_len]
            r["path_bytes"] = nb[:r["path_length"]]
            r["target_bytes"] = nb[r["path_length"]:]
            to_hash.append((r, raw[0:72] + nb))
        records.append(r)
    for (r, _), s in zip(to_hash, xxh3_many([b for _, b in to_hash])):
        if s != r["checksum"]:
            r["ok"], r["problem"] = False, "segment record is damaged (checksum mismatch)"

    cs = h["chunk_size"]
    owner = {}
    seen = set()
    for r in records:
        if not r["ok"]:
            continue

        def fail(why):
            r["ok"], r["problem"] = False, why

        p = validate_path(r["path_bytes"])
        if p:
            fail("unsafe path in image: " + p)
            continue
        if r["mode"] > 0o7777:
            fail("mode has bits beyond 07777")
            continue
        t = r["type"]
        if t == 1:
            expect = -(-r["size"] // cs)
            if (r["target_length"] != 0 or r["chunk_count"] != expect
                    or not within(r["first_chunk"], r["chunk_count"], 0, h["chunk_count"])):
                fail("file record with an inconsistent size or chunk range")
                continue
        elif t == 2:
            if r["size"] or r["chunk_count"] or r["target_length"]:
                fail("directory record with a size, chunks or a target")
                continue
        elif t == 3:
            if (not 1 <= r["target_length"] <= MAX_TARGET or r["size"] != r["target_length"]
                    or r["chunk_count"] != 0 or b"\0" in r["target_bytes"]):
                fail("symlink record with an invalid target")
                continue
        else:
            fail("unknown entry type %d" % t)
            continue
        if r["path_bytes"] in seen:
            fail("duplicate path (an earlier segment has the same path)")
            continue
        seen.add(r["path_bytes"])
        for k in range(r["chunk_count"]):
            c = r["first_chunk"] + k
            if c in owner:
                fail("shares chunk %d with segment %d" % (c, owner[c]))
                break
        if r["ok"]:
            for k in range(r["chunk_count"]):
                c = r["first_chunk"] + k
                owner[c] = r["index"]
                if not problems[c] and chunks[c]["raw_length"] != min(cs, r["size"] - k * cs):
                    problems[c] = "chunk size does not match the file's layout"
    image_problems = [] if tables_ok else ["image tables do not match their checksums"]
    return records, chunks, problems, image_problems, tables_ok


# ---------------------------------------------------------------------------------------------
# Chunk data (section 9).

def zstd_frame_content_size(b):
    """Frame_Content_Size declared by the zstd frame at the start of b (RFC 8878 3.1.1.1),
    or None when absent or not a zstd frame."""
    if len(b) < 5 or struct.unpack_from("<I", b, 0)[0] != ZSTD_MAGIC:
        return None
    fhd = b[4]
    fcs_flag, single = fhd >> 6, (fhd >> 5) & 1
    did_size = (0, 1, 2, 4)[fhd & 3]
    fcs_size = (1 if single else 0, 2, 4, 8)[fcs_flag]
    if fcs_size == 0:
        return None
    pos = 5 + (0 if single else 1) + did_size
    if len(b) < pos + fcs_size:
        return None
    v = int.from_bytes(b[pos:pos + fcs_size], "little")
    return v + 256 if fcs_size == 2 else v


def verify_data(m, h, records, chunks, problems):
    """Section 11.8: returns {segment: [(file_offset, length, reason)]} and counters."""
    damage = {}
    have_zstd = shutil.which("zstd") is not None
    pending = []  # (segment, k, expected hash, raw bytes)
    zero_cache = {}
    stats = {"chunks": 0, "bytes": 0, "zstd_unchecked": 0}
    cs = h["chunk_size"]
    for r in records:
        if not r["ok"]:
            continue
        for k in range(r["chunk_count"]):
            ci = r["first_chunk"] + k
            c = chunks[ci]
            rng = (k * cs, min(cs, r["size"] - k * cs))
            if problems[ci]:
                damage.setdefault(r["index"], []).append((*rng, problems[ci]))
                continue
            if c["raw_length"] > cs:
                damage.setdefault(r["index"], []).append((*rng, "chunk larger than chunk size"))
                continue
            if c["codec"] == 2:
                n = c["raw_length"]
                if n not in zero_cache:
                    zero_cache[n] = xxh3(bytes(n))
                if zero_cache[n] != c["hash"]:
                    damage.setdefault(r["index"], []).append((*rng, "zero chunk with a wrong checksum"))
                else:
                    stats["chunks"] += 1
                    stats["bytes"] += n
                continue
            stored = m.read(c["offset"], c["stored_length"])
            if c["codec"] == 1:
                if zstd_frame_content_size(stored) != c["raw_length"]:
                    damage.setdefault(r["index"], []).append(
                        (*rng, "compressed chunk declares the wrong size"))
                    continue
                if not have_zstd:
                    stats["zstd_unchecked"] += 1
                    continue
                p = subprocess.run(["zstd", "-dcq"], input=stored, capture_output=True)
                if p.returncode != 0 or len(p.stdout) != c["raw_length"]:
                    damage.setdefault(r["index"], []).append((*rng, "zstd frame does not decode"))
                    continue
                stored = p.stdout
            pending.append((r["index"], rng, c["hash"], stored))
    for (seg, rng, want, _), got in zip(pending, xxh3_many([p[3] for p in pending])):
        if got != want:
            damage.setdefault(seg, []).append((*rng, "checksum mismatch"))
        else:
            stats["chunks"] += 1
            stats["bytes"] += rng[1]
    return damage, stats


# ---------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("image")
    ap.add_argument("--verify-data", action="store_true", help="check every chunk's hash")
    ap.add_argument("--any-state", action="store_true",
                    help="describe an unsealed or consumed image too (like inspect)")
    ap.add_argument("--chunks", action="store_true", help="list every chunk record")
    args = ap.parse_args()
    try:
        m = Medium(args.image)
    except OSError as e:
        print("error: %s" % e, file=sys.stderr)
        return 1
    try:
        # 11.1 - 11.3: size, header, seal.
        if m.size < DATA_OFFSET:
            raise NoImage("medium holds %d bytes, less than a header and a seal" % m.size)
        hb = m.read(HEADER_OFFSET, BLOCK)
        sb = m.read(SEAL_OFFSET, BLOCK)
        hsum, ssum = xxh3_many([hb[:BLOCK_CHECKSUM_OFFSET], sb[:BLOCK_CHECKSUM_OFFSET]])
        h = decode_header(hb, hsum)
        seal, seal_problem = decode_seal(sb, ssum)
        state = "unsealed"
        if seal and (seal["header_checksum"] != hsum or seal["image_uuid"] != h["image_uuid"]
                     or seal["generation"] != h["generation"]
                     or seal["image_end"] != h["image_end"]):
            seal_problem = "the seal belongs to another image (stale seal)"
        elif seal:
            state = SEAL_STATES[seal["state"]]
        print("header: format %d.%d, header_size %d, compat 0x%x, incompat 0x%x"
              % (h["major"], h["minor"], h["header_size"], h["compat_flags"], h["incompat_flags"]))
        print("  uuid %s  generation %d  boot_id %s  kernel %r  created_ns %d"
              % (uuid_text(h["image_uuid"]), h["generation"], uuid_text(h["writer_boot_id"]),
                 h["kernel_release"], h["created_ns"]))
        print("  chunk_size %d  capacity %d  block checksum 0x%016x"
              % (h["chunk_size"], h["capacity"], hsum))
        print("  data        [%d, +%d)" % (h["data_offset"], h["data_length"]))
        print("  segments    [%d, +%d) x%d  xxh3 0x%016x"
              % (h["segment_table_offset"], h["segment_count"] * SEGMENT_RECORD,
                 h["segment_count"], h["segment_table_checksum"]))
        print("  chunks      [%d, +%d) x%d  xxh3 0x%016x"
              % (h["chunk_table_offset"], h["chunk_count"] * CHUNK_RECORD, h["chunk_count"],
                 h["chunk_table_checksum"]))
        print("  names       [%d, +%d)  xxh3 0x%016x"
              % (h["names_offset"], h["names_length"], h["names_checksum"]))
        print("  raw %d bytes, stored %d bytes, image_end %d (medium %d bytes)"
              % (h["total_raw_bytes"], h["total_stored_bytes"], h["image_end"], m.size))
        if seal:
            print("seal: state %s, sealed_ns %d, consumed_ns %d, header_checksum 0x%016x"
                  % (SEAL_STATES[seal["state"]], seal["sealed_ns"], seal["consumed_ns"],
                     seal["header_checksum"]))
        print("image state: %s%s" % (state, " (%s)" % seal_problem if seal_problem else ""))
        if state != "sealed" and not args.any_state:
            raise NoImage("no sealed image: " + (seal_problem or "the seal is consumed"))
        # 11.4 - 11.7: geometry and tables.
        check_geometry(h, m.size)
        records, chunks, problems, image_problems, tables_ok = load_tables(m, h)
    except NoImage as e:
        print("NO IMAGE: %s" % e)
        return 4

    print("tables: %s" % ("checksums match" if tables_ok else "CHECKSUM MISMATCH"))
    for r in records:
        if not r["ok"]:
            print("  %d  DAMAGED RECORD: %s" % (r["index"], r["problem"]))
            continue
        path = r["path_bytes"].decode("utf-8", "replace")
        line = "  %d  %-7s %04o %d:%d mtime_ns=%d %s" % (
            r["index"], ENTRY_TYPES[r["type"]], r["mode"], r["uid"], r["gid"], r["mtime_ns"], path)
        if r["type"] == 3:
            line += " -> " + r["target_bytes"].decode("utf-8", "replace")
        if r["type"] == 1:
            codecs = [CODECS.get(chunks[r["first_chunk"] + k]["codec"], "?")
                      for k in range(r["chunk_count"])]
            summary = ", ".join("%d %s" % (codecs.count(n), n) for n in ("raw", "zstd", "zero")
                                if codecs.count(n))
            line += "  size %d, chunks [%d, +%d)%s" % (
                r["size"], r["first_chunk"], r["chunk_count"], " (%s)" % summary if summary else "")
        print(line)
    if args.chunks:
        print("chunk records:")
        for i, c in enumerate(chunks):
            print("  %d  %-4s offset %d stored %d raw %d hash 0x%016x%s" % (
                i, CODECS.get(c["codec"], "?"), c["offset"], c["stored_length"],
                c["raw_length"], c["hash"], "  PROBLEM: " + problems[i] if problems[i] else ""))

    damaged = {r["index"]: [(0, 0, r["problem"])] for r in records if not r["ok"]}
    if args.verify_data:
        data_damage, stats = verify_data(m, h, records, chunks, problems)
        for seg, ranges in data_damage.items():
            damaged.setdefault(seg, []).extend(ranges)
        print("data: %d chunks (%d raw bytes) match their XXH3-64%s" % (
            stats["chunks"], stats["bytes"],
            ", %d zstd chunks not decompressed (no zstd tool)" % stats["zstd_unchecked"]
            if stats["zstd_unchecked"] else ""))
    else:
        # Without reading data, structural chunk problems are still attributable.
        for r in records:
            if r["ok"]:
                for k in range(r["chunk_count"]):
                    if problems[r["first_chunk"] + k]:
                        damaged.setdefault(r["index"], []).append(
                            (k * h["chunk_size"], 0, problems[r["first_chunk"] + k]))
    for seg in sorted(damaged):
        r = records[seg]
        path = r["path_bytes"].decode("utf-8", "replace") if r["ok"] else "(path unreadable)"
        ranges = [x for x in damaged[seg] if x[1]]
        print("DAMAGED segment %d %s: %s%s" % (
            seg, path, damaged[seg][0][2],
            " [%d damaged range(s), first at byte %d]" % (len(ranges), ranges[0][0])
            if ranges else ""))
    for p in image_problems:
        print("IMAGE PROBLEM: %s" % p)
    if damaged or image_problems:
        print("outcome: partial (exit 3)")
        return 3
    print("outcome: %s (exit 0)" % ("intact" if args.verify_data else "metadata intact"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
