#!/usr/bin/env bash
# 'warmboot api' against the real warmbootd, started here on a temporary socket: put (bytes from
# a file and from stdin, a tmpfs file by descriptor), list, get, drop, human and --json, exit
# codes (no daemon, no such segment, refused names and descriptors, usage), and both examples
# (examples/checkpoint.c, .cc), whose segments the CLI then reads back. The daemon is stopped
# on exit whatever happens.
# usage: api_cli_test.sh WARMBOOT WARMBOOTD [CHECKPOINT_C CHECKPOINT_CC]
set -uo pipefail
wb=$1
wbd=$2
ex_c=${3:-}
ex_cc=${4:-}
work=$(mktemp -d /dev/shm/wb-api-test.XXXXXX 2>/dev/null || mktemp -d)
# --fd takes files on tmpfs only: this one is, wherever $work is.
fdfile=$(mktemp /dev/shm/wb-api-fd.XXXXXX)
sock=$work/api.sock
daemon_pid=
stop_daemon() {
  if [[ -n $daemon_pid ]]; then
    kill -TERM "$daemon_pid" 2>/dev/null
    wait "$daemon_pid"
    local rc=$?
    daemon_pid=
    return $rc
  fi
}
trap 'stop_daemon; rm -rf "$work" "$fdfile"' EXIT
fails=0
passes=0
check() {  # check NAME EXPECTED_EXIT ACTUAL_EXIT
  if [[ "$2" == "$3" ]]; then passes=$((passes + 1)); else echo "FAIL: $1 (exit $3, expected $2)"; fails=$((fails + 1)); fi
}
has() {  # has NAME TEXT NEEDLE
  if grep -qF -- "$3" <<<"$2"; then passes=$((passes + 1)); else echo "FAIL: $1: '$3' not in: $2"; fails=$((fails + 1)); fi
}
is() {  # is NAME ACTUAL EXPECTED
  if [[ "$2" == "$3" ]]; then passes=$((passes + 1)); else echo "FAIL: $1: '$2', expected '$3'"; fails=$((fails + 1)); fi
}
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }
api() { "$wb" api "$@" --socket "$sock"; }

# No daemon yet: exit 1, saying so (and in JSON, telling it apart from a missing segment).
out=$(api list --app t 2>&1); check "no daemon" 1 $?
has "no daemon named" "$out" "warmbootd is not running at $sock"
out=$(api get --app t index --json --output "$work/x"); check "no daemon --json" 1 $?
is "no daemon json ok" "$(json 'd["ok"]' <<<"$out")" False
is "no daemon json code" "$(json 'd["error"]["code"]' <<<"$out")" not-found
is "no daemon json daemon_running" "$(json 'd["daemon_running"]' <<<"$out")" False
is "no daemon json exit_code" "$(json 'd["exit_code"]' <<<"$out")" 1

# Usage errors need no daemon.
"$wb" api >/dev/null 2>&1; check "api alone" 2 $?
"$wb" api bogus >/dev/null 2>&1; check "unknown subcommand" 2 $?
api put --app t >/dev/null 2>&1; check "put without SEGMENT FILE" 2 $?
api put index "$work/x" >/dev/null 2>&1; check "put without --app" 2 $?
api list >/dev/null 2>&1; check "list without --app or --all" 2 $?
api get --app t index --json >"$work/out"; check "get --json without --output" 2 $?
is "usage json code" "$(json 'd["error"]["code"]' <"$work/out")" usage
api drop --app t a b >/dev/null 2>&1; check "drop with two segments" 2 $?
api list --app t --bogus >/dev/null 2>&1; check "unknown option" 2 $?
out=$("$wb" api --help); check "api --help" 0 $?
has "help names put" "$out" "put --app NAME SEGMENT FILE|-"
out=$("$wb" api get --help); check "api get --help" 0 $?
has "help names --output" "$out" "--output FILE"
out=$("$wb" help); has "warmboot help lists api" "$out" "api list|put|get|drop|status"

# The daemon, in the background; ready once it says it serves (it has bound and listens).
"$wbd" --socket "$sock" 2>"$work/daemon.log" &
daemon_pid=$!
for _ in $(seq 1 200); do
  grep -q "serving" "$work/daemon.log" 2>/dev/null && break
  kill -0 "$daemon_pid" 2>/dev/null || break
  sleep 0.05
done
grep -q "serving $sock" "$work/daemon.log" || { echo "FAIL: warmbootd did not start: $(cat "$work/daemon.log")"; exit 1; }

# put: bytes from a file, from stdin, a tmpfs file by descriptor.
printf 'hello state\n' >"$work/index.in"
out=$(api put --app t index "$work/index.in"); check "put file" 0 $?
has "put says what" "$out" "stored segment 'index' of app t: 12 B of bytes"
head -c 100000 /dev/urandom >"$work/blob.in"
out=$(api put --app t blob - --json <"$work/blob.in"); check "put stdin --json" 0 $?
is "put json ok" "$(json 'd["ok"]' <<<"$out")" True
is "put json size" "$(json 'd["size"]' <<<"$out")" 100000
is "put json kind" "$(json 'd["kind"]' <<<"$out")" bytes
is "put json segment" "$(json 'd["segment"]' <<<"$out")" blob
head -c 3000000 /dev/urandom >"$fdfile"
out=$(api put --app t big "$fdfile" --fd); check "put --fd" 0 $?
has "put --fd says by descriptor" "$out" "by descriptor"
head -c $((1024 * 1024 + 1)) /dev/zero >"$work/toobig"
out=$(api put --app t toobig "$work/toobig" 2>&1); check "put over 1 MiB" 1 $?
has "over 1 MiB says --fd" "$out" "more than 1 MiB"
out=$(api put --app t disk "$wb" --fd 2>&1); check "put --fd of a disk file" 1 $?
has "disk file refused" "$out" "not on tmpfs"
out=$(api put --app t .. "$work/index.in" 2>&1); check "put bad name" 1 $?
has "bad name refused" "$out" "is not allowed"
out=$(api put --app t x "$work/nonexistent" 2>&1); check "put missing FILE" 1 $?
has "missing FILE named" "$out" "$work/nonexistent"

# list: human and JSON; another app sees none of it.
out=$(api list --app t); check "list" 0 $?
has "list counts" "$out" "app t: 3 segments"
has "list shows big" "$out" "big  fd  2.9 MiB"
has "list shows index" "$out" "index  bytes  12 B"
# Options may come before the subcommand, as everywhere.
out=$("$wb" api --socket "$sock" --app t list); check "options before the subcommand" 0 $?
has "list with options first" "$out" "app t: 3 segments"
out=$(api list --app t --json); check "list --json" 0 $?
is "list json names" "$(json '[s["segment"] for s in d["segments"]]' <<<"$out")" "['big', 'blob', 'index']"
is "list json sizes" "$(json '[s["size"] for s in d["segments"]]' <<<"$out")" "[3000000, 100000, 12]"
is "list json kinds" "$(json '[s["kind"] for s in d["segments"]]' <<<"$out")" "['fd', 'bytes', 'bytes']"
is "list json exit_code" "$(json 'd["exit_code"]' <<<"$out")" 0
out=$(api list --app other); check "list other app" 0 $?
has "other app has none" "$out" "app other has no segments"
out=$(api list --all --json); rc=$?
if [[ $(id -u) == 0 ]]; then
  check "list --all as root" 0 $rc
  has "list --all names the app" "$(json '[(s["app"], s["segment"]) for s in d["segments"]]' <<<"$out")" "('t', 'index')"
else
  check "list --all as a user" 1 $rc
  is "list --all code" "$(json 'd["error"]["code"]' <<<"$out")" permission
fi

# status: who is registered and what each holds (root sees every uid's).
out=$(api status); check "status" 0 $?
has "status counts" "$out" "warmbootd at $sock: "
has "status says a restart loses it" "$out" "a restart of warmbootd loses them: run it as warmbootd.service"
has "status without a round" "$out" "no checkpoint round yet"
out=$(api status --json); check "status --json" 0 $?
is "status json kept" "$(json 'd["kept"]' <<<"$out")" False
is "status json t's segments" "$(json '[a["segments"] for a in d["apps"] if a["app"] == "t"]' <<<"$out")" "[3]"
api status extra >/dev/null 2>&1; check "status takes no arguments" 2 $?

# get: to stdout, to a file, with --json; a missing segment leaves no file.
api get --app t index >"$work/index.out"; check "get to stdout" 0 $?
cmp -s "$work/index.in" "$work/index.out"; check "get stdout bytes" 0 $?
out=$(api get --app t blob --output "$work/blob.out"); check "get --output" 0 $?
has "get says where" "$out" "wrote segment 'blob' of app t (97.7 KiB) to $work/blob.out"
cmp -s "$work/blob.in" "$work/blob.out"; check "get --output bytes" 0 $?
out=$(api get --app t big --output "$work/big.out" --json); check "get --json" 0 $?
is "get json size" "$(json 'd["size"]' <<<"$out")" 3000000
cmp -s "$fdfile" "$work/big.out"; check "get by-descriptor bytes" 0 $?
out=$(api get --app t missing --output "$work/missing.out" 2>&1); check "get missing" 1 $?
has "get missing named" "$out" "no segment 'missing'"
[[ ! -e $work/missing.out ]]; check "get missing writes no file" 0 $?
out=$(api get --app t missing --output "$work/missing.out" --json); check "get missing --json" 1 $?
is "get missing json code" "$(json 'd["error"]["code"]' <<<"$out")" not-found
is "get missing json has no daemon_running" "$(json '"daemon_running" in d' <<<"$out")" False
out=$(api get --app other index 2>&1); check "get another app's segment" 1 $?

# drop.
out=$(api drop --app t index); check "drop" 0 $?
has "drop says what" "$out" "dropped segment 'index' of app t (12 B)"
out=$(api drop --app t index 2>&1); check "drop again" 1 $?
has "drop again not found" "$out" "no segment 'index'"
out=$(api drop --app t blob --json); check "drop --json" 0 $?
is "drop json size" "$(json 'd["size"]' <<<"$out")" 100000
out=$(api list --app t --json)
is "list after drops" "$(json '[s["segment"] for s in d["segments"]]' <<<"$out")" "['big']"

# The examples, against the same daemon; what they leave, the CLI reads back.
if [[ -n $ex_c && -n $ex_cc ]]; then
  out=$("$ex_c" "$sock"); check "C example" 0 $?
  has "C example checks" "$out" "got it back: 65536 bytes, identical"
  out=$("$ex_cc" "$sock"); check "C++ example" 0 $?
  has "C++ example checks" "$out" "got it back: 65536 bytes, identical"
  out=$(api list --app checkpoint-c --json)
  is "C example's segment" "$(json '[(s["segment"], s["size"], s["kind"]) for s in d["segments"]]' <<<"$out")" "[('state', 65536, 'fd')]"
  out=$(api get --app checkpoint-cc state | head -n 1)
  is "C++ example's state" "$out" "warmboot checkpoint example (C++), generation 1"
  out=$("$ex_c" "$work/none.sock" 2>&1); check "C example without a daemon" 1 $?
  has "C example says no daemon" "$out" "no-daemon"
  "$ex_cc" "$work/none.sock" >/dev/null 2>&1; check "C++ example without a daemon" 1 $?
else
  echo "examples not built (WARMBOOT_EXAMPLES=OFF): not run"
fi

# Stopped, the daemon is gone; a socket file nobody listens on (a daemon that was killed) is
# "not running" too.
stop_daemon; check "warmbootd stops on SIGTERM" 0 $?
out=$(api list --app t 2>&1); check "after the daemon stopped" 1 $?
has "stopped daemon named" "$out" "warmbootd is not running at $sock"
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$sock"
[[ -S $sock ]]; check "a stale socket file" 0 $?
out=$(api put --app t x "$work/index.in" 2>&1); check "a stale socket" 1 $?
has "stale socket: not running" "$out" "warmbootd is not running at $sock"

echo "api_cli: $passes passed, $fails failed"
[[ $fails -eq 0 ]]
