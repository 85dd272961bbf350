#!/usr/bin/env bash
# The image commands through the CLI: exit codes 0 (ok), 1 (error), 2 (usage), 3 (partial) and
# 4 (no image), and --json on every command printing one valid JSON document, errors included.
# usage: cli_test.sh WARMBOOT
set -uo pipefail
wb=$1
work=$(mktemp -d /dev/shm/wb-cli-test.XXXXXX 2>/dev/null || mktemp -d)
trap 'chmod -R u+rwx "$work" 2>/dev/null; rm -rf "$work"' EXIT
fails=0
passes=0
njson=0
: >"$work/manifest"
# The interpreter itself, not a version-manager shim: each start-up counts here.
py=$(python3 -c 'import sys; print(sys.executable)')
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
pass() { passes=$((passes + 1)); }

# t NAME EXPECTED_EXIT ARGS...: runs warmboot ARGS (stdout -> $work/out, stderr -> $work/err)
# and checks the exit code. With --json among ARGS (before any --), stdout must be one valid
# JSON document (python3 -m json.tool) whose "exit_code" is the exit code, whose "ok" is true
# exactly when it is 0, and which satisfies the Python expression in $J (over d), if set (these
# are checked together at the end).
t() {
  local name=$1 want=$2
  shift 2
  "$wb" "$@" >"$work/out" 2>"$work/err"
  local got=$?
  if [[ $got != "$want" ]]; then
    fail "$name: exit $got, expected $want; stderr: $(head -c 400 "$work/err"); stdout: $(head -c 400 "$work/out")"
    return
  fi
  local json=0 a
  for a in "$@"; do
    [[ $a == -- ]] && break
    [[ $a == --json ]] && json=1
  done
  if ((json)); then
    if ! "$py" -S -m json.tool "$work/out" >/dev/null 2>&1; then
      fail "$name: --json printed invalid JSON: $(head -c 400 "$work/out")"
      return
    fi
    # Fields are checked all at once at the end (one interpreter start instead of one each).
    njson=$((njson + 1))
    cp "$work/out" "$work/json.$njson"
    printf '%s\t%s\t%s\t%s\n' "$name" "$work/json.$njson" "$got" "${J:-}" >>"$work/manifest"
  fi
  pass
}

# A state tree: text, random, zeros, a symlink, nested directories.
state=$work/state
mkdir -p "$state/dir/sub"
"$py" - "$state" <<'PY'
import os, random, sys
root = sys.argv[1]
random.seed(1)
words = ["warm", "boot", "state", "image", "seal", "chunk", "the", "of"]
open(os.path.join(root, "text.txt"), "w").write(" ".join(random.choice(words) for _ in range(60000)))
open(os.path.join(root, "dir/random.bin"), "wb").write(bytes(random.getrandbits(8) for _ in range(300000)))
open(os.path.join(root, "dir/zeros.bin"), "wb").write(bytes(200000))
open(os.path.join(root, "dir/sub/small"), "w").write("small\n")
os.symlink("../text.txt", os.path.join(root, "dir/link"))
PY

img=$work/image
# ---- 0: pack, verify, inspect, unpack
t "pack" 0 pack "$state" "$img" --chunk-size 64K --compress zstd
[[ -s $img ]] && pass || fail "pack made no image file"
truncate -s 4M "$work/image2"  # an existing image file is written in place: its size is its capacity
J='d["generation"] == 1 and d["files"] == 4' t "pack --json" 0 pack "$state" "$work/image2" --json --compress=auto
J='d["generation"] == 2' t "pack again (generation 2)" 0 pack "$state" "$work/image2" --json
t "verify" 0 verify "$img"
J='(d["partial"]) is False' t "verify --json" 0 verify "$img" --json --threads 2
t "inspect" 0 inspect "$img"
J='d["state"] == "sealed" and len(d["segments"]) == 7 and d["compression_ratio"] > 1' \
  t "inspect --json" 0 inspect --json "$img"
t "unpack" 0 unpack "$img" "$work/dest"
diff -r --no-dereference "$state" "$work/dest" >/dev/null && pass || fail "unpack: trees differ"
J='d["files"] == 4 and (d["consumed"]) is False' t "unpack --json" 0 unpack "$img" "$work/dest2" --json
t "options after --" 0 verify --json -- "$img"
t "help" 0 help
t "version" 0 --version
t "verify --help" 0 verify --help

# ---- 2: usage
t "no command" 2
t "unknown command" 2 frobnicate
for cmd in pack verify unpack inspect preserve restore status; do
  t "$cmd: unknown option" 2 "$cmd" --no-such-option
  J='d["error"]["code"] == "usage"' t "$cmd: unknown option --json" 2 "$cmd" --no-such-option --json
done
t "verify: missing IMAGE" 2 verify --json
t "verify: extra argument" 2 verify "$img" extra --json
t "unpack: missing DEST" 2 unpack "$img" --json
t "pack: bad chunk size" 2 pack "$state" "$work/x.img" --chunk-size 5000 --json
# --json holds for an unknown command too (it printed text to stderr, nothing on stdout), and
# status takes no operands (it read the default configuration and ignored them).
t "unknown command --json" 2 frobnicate --json
t "status with an operand" 2 status /etc/warmboot/other.conf --json
# ... whatever the image path: checked before IMAGE is opened (it was exit 1, not-found, here).
t "pack: bad chunk size, image dir missing" 2 pack "$state" "$work/no/such/x.img" --chunk-size 3 --json
[[ ! -e $work/x.img || ! -s $work/x.img ]] && pass || fail "pack with a bad chunk size wrote"
t "pack: bad compression" 2 pack "$state" "$work/x.img" --compress zstd:20
t "pack: bad threads" 2 pack "$state" "$work/x.img" --threads 0 --json
t "pack: bad size unit" 2 pack "$state" "$work/x.img" --capacity 12Q --json
t "single-dash option" 2 verify -x "$img"
t "value for a flag" 2 unpack "$img" "$work/d9" --merge=yes --json

# ---- 3: partial
cp "$img" "$work/damaged"
"$py" - "$work/damaged" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(8192 + 100)        # inside the first stored chunk
    b = f.read(1)
    f.seek(8192 + 100)
    f.write(bytes([b[0] ^ 0x10]))
PY
t "verify damaged" 3 verify "$work/damaged"
grep -q "damaged" "$work/out" && pass || fail "verify damaged: no damage named"
J='(d["partial"] and len(d["damaged"]) == 1 and d["damaged"][0]["path"] is not None)' t "verify damaged --json" 3 verify "$work/damaged" --json
t "unpack damaged" 3 unpack "$work/damaged" "$work/dest3"
"$py" -S -m json.tool "$work/dest3/.quarantine/report.json" >/dev/null 2>&1 && pass ||
  fail "no valid .quarantine/report.json"
J='("quarantine_report" in d and d["damaged"][0]["quarantined_as"].startswith(".quarantine/"))' t "unpack damaged --json" 3 unpack "$work/damaged" "$work/dest4" --json
t "inspect damaged (tables fine)" 0 inspect "$work/damaged" --json

# ---- 4: no image
head -c 65536 /dev/zero >"$work/zeros"
head -c 100 /dev/zero >"$work/tiny"
for cmd in verify inspect; do
  t "$cmd zeros" 4 "$cmd" "$work/zeros"
  J='d["error"]["code"] == "no-image"' t "$cmd zeros --json" 4 "$cmd" "$work/zeros" --json
  t "$cmd tiny --json" 4 "$cmd" "$work/tiny" --json
done
t "unpack zeros --json" 4 unpack "$work/zeros" "$work/dest5" --json
[[ ! -e $work/dest5 ]] && pass || fail "unpack of no image created DEST"
head -c 20000 "$img" >"$work/truncated"
t "verify truncated --json" 4 verify "$work/truncated" --json
t "unpack truncated" 4 unpack "$work/truncated" "$work/dest6"
cp "$img" "$work/consumed"
J='(d["consumed"])' t "unpack --consume" 0 unpack "$work/consumed" "$work/dest7" --consume --json
t "verify consumed --json" 4 verify "$work/consumed" --json
t "unpack consumed" 4 unpack "$work/consumed" "$work/dest8"
J='d["state"] == "consumed"' t "inspect consumed --json" 4 inspect "$work/consumed" --json
cp "$img" "$work/unsealed"
"$py" -c 'import sys; f=open(sys.argv[1],"r+b"); f.seek(4096); f.write(bytes(4096))' "$work/unsealed"
J='d["state"] == "unsealed"' t "inspect unsealed --json" 4 inspect "$work/unsealed" --json
t "verify unsealed" 4 verify "$work/unsealed"

# ---- direct I/O: an aligned image written and read with O_DIRECT, on a disk file system (tmpfs
# refuses O_DIRECT before Linux 6.6), read back both ways and by the reference reader; and a
# real block device (a loop device) when root, where direct I/O is the default
t "pack: bad --direct-io" 2 pack "$state" "$work/x.img" --direct-io maybe --json
t "verify: bad --direct-io" 2 verify "$img" --direct-io=1
dio=$(mktemp -d /var/tmp/wb-cli-dio.XXXXXX 2>/dev/null || mktemp -d)
if "$wb" pack "$state" "$dio/image" --direct-io on --chunk-size 64K --compress auto --json \
  >"$work/out" 2>&1; then
  pass
  grep -q '"data_alignment": *4096' "$work/out" && pass || fail "direct pack: $(cat "$work/out")"
  t "verify --direct-io on" 0 verify "$dio/image" --direct-io on
  t "verify --direct-io off" 0 verify "$dio/image" --direct-io off
  t "unpack --direct-io on" 0 unpack "$dio/image" "$work/dest-dio" --direct-io on
  diff -r --no-dereference "$state" "$work/dest-dio" >/dev/null && pass ||
    fail "unpack --direct-io on: trees differ"
  if command -v xxhsum >/dev/null; then
    "$py" "$(dirname "$0")/../../docs/reference_reader.py" "$dio/image" --verify-data \
      >"$work/out" 2>&1 && pass || fail "reference reader on an aligned image: $(tail -5 "$work/out")"
  fi
elif grep -q unsupported "$work/out"; then
  echo "cli_test: no O_DIRECT under $dio; direct I/O on files not tested"
  [[ ! -e $dio/image ]] && pass || fail "pack --direct-io on, refused, left $dio/image behind"
else
  fail "pack --direct-io on: $(cat "$work/out")"
fi
if [[ $EUID -eq 0 ]] && command -v losetup >/dev/null && truncate -s 16M "$dio/disk" &&
  loop=$(losetup -f --show "$dio/disk" 2>/dev/null); then
  J='d["data_alignment"] == 512' t "pack into a block device" 0 pack "$state" "$loop" --json
  t "verify the block device" 0 verify "$loop"
  t "unpack the block device" 0 unpack "$loop" "$work/dest-loop" --consume
  diff -r --no-dereference "$state" "$work/dest-loop" >/dev/null && pass ||
    fail "unpack from a block device: trees differ"
  J='d["data_alignment"] == 1' t "pack into a block device, buffered" 0 pack "$state" "$loop" \
    --direct-io off --json
  t "verify the buffered image with direct I/O" 0 verify "$loop"
  losetup -d "$loop"
else
  echo "cli_test: not root or no loop device; block-device direct I/O not tested here"
fi
rm -rf "$dio"

# ---- 1: errors
t "pack: no state dir" 1 pack "$work/no-such-dir" "$work/y.img"
J='d["error"]["code"] == "not-found"' t "pack: no state dir --json" 1 pack "$work/no-such-dir" "$work/y.img" --json
t "pack: capacity too small" 1 pack "$state" "$work/small.img" --capacity 64K
grep -q "short by" "$work/err" && pass || fail "capacity: message does not say 'short by': $(cat "$work/err")"
[[ ! -s $work/small.img ]] && pass || fail "capacity: the refused pack wrote to the image"
J='("short by" in d["error"]["message"] and d["error"]["code"] == "no-space")' t "pack: capacity too small --json" 1 pack "$state" "$work/small.img" --capacity 64K --json
cp "$work/image2" "$work/keep.img"
t "pack over an image: capacity too small" 1 pack "$state" "$work/keep.img" --capacity 64K --json
t "the earlier image survives" 0 verify "$work/keep.img"
t "verify: no such image" 1 verify "$work/no-such.img"
t "verify: no such image --json" 1 verify "$work/no-such.img" --json
t "inspect: no such image --json" 1 inspect "$work/no-such.img" --json
t "unpack: no such image --json" 1 unpack "$work/no-such.img" "$work/dest9" --json
mkdir -p "$work/busy" && echo x >"$work/busy/occupied"
t "unpack: non-empty DEST" 1 unpack "$img" "$work/busy"
J='d["error"]["code"] == "invalid-argument"' t "unpack: non-empty DEST --json" 1 unpack "$img" "$work/busy" --json
[[ $(ls "$work/busy") == occupied ]] && pass || fail "non-empty DEST was modified"
t "unpack: --merge into non-empty DEST" 0 unpack "$img" "$work/busy" --merge --json
mkdir -p "$work/withfifo" && mkfifo "$work/withfifo/fifo"
J='d["error"]["code"] == "unsupported"' t "pack: FIFO in state --json" 1 pack "$work/withfifo" "$work/z.img" --json
mkdir -p "$work/withq/.quarantine"
t "pack: .quarantine in state" 1 pack "$work/withq" "$work/q.img"
t "unpack into a file" 1 unpack "$img" "$work/zeros" --json
for cmd in preserve restore status; do
  t "$cmd: missing config --json" 1 "$cmd" --config "$work/no-such.conf" --json
done

# Every --json document: "exit_code" is the exit code, "ok" is true exactly when it is 0, errors
# carry a code and a message, and the expression J given with the command holds.
while IFS= read -r line; do
  fail "$line"
done < <("$py" -S - "$work/manifest" <<'PY'
import json, sys
for row in open(sys.argv[1]):
    name, path, code, expr = row.rstrip("\n").split("\t")
    d, code, problems = json.load(open(path)), int(code), []
    if d.get("exit_code") != code: problems.append("exit_code %r" % d.get("exit_code"))
    if d.get("ok") is not (code == 0): problems.append("ok %r" % d.get("ok"))
    if code in (1, 2) or (code == 4 and "error" in d):
        e = d.get("error") or {}
        if not e.get("code") or not e.get("message"): problems.append("error without code/message")
    if expr:
        try:
            good = eval(expr)
        except Exception:
            good = False
        if not good: problems.append("expected %s in %s" % (expr, json.dumps(d)[:400]))
    if problems: print("%s: %s" % (name, "; ".join(problems)))
PY
)
echo "cli_test: $passes passed, $fails failed ($njson JSON documents checked)"
((fails == 0))
