#!/usr/bin/env bash
# preserve -> (reboot) -> restore -> status through the CLI, over a simulated namespace kept on
# disk, so every command runs as its own process the way the boot hooks will run them. The
# simulated commands run through the test-only warmboot-sim (testing/); the product binary is
# checked to contain no simulator.
# usage: machine_cli_test.sh WARMBOOT WARMBOOT_SIM WB_SIMCTL
set -uo pipefail
real_wb=$1
simctl=$3
work=$(mktemp -d /dev/shm/wb-machine-test.XXXXXX 2>/dev/null || mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
passes=0
check() {  # check NAME EXPECTED_EXIT ACTUAL_EXIT
  if [[ "$2" == "$3" ]]; then passes=$((passes + 1)); else echo "FAIL: $1 (exit $3, expected $2)"; fails=$((fails + 1)); fi
}
expect() {  # expect NAME COMMAND...
  if "${@:2}" >/dev/null 2>&1; then passes=$((passes + 1)); else echo "FAIL: $1"; fails=$((fails + 1)); fi
}
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }

"$simctl" create "$work/sim" 528 || exit 1
export WARMBOOT_SIM_DIR=$work/sim
wb=$2
cat >"$work/wb.conf" <<CONF
namespace = namespace0.0
state_dir = $work/state
restore_dir = $work/restore
report_dir = $work/reports
history_dir = $work/history
lock_file = $work/lock
chunk_size = 64K
offline_backoff_ms = 1
metrics_file = $work/prom/warmboot.prom
CONF
mkdir -p "$work/prom"
cfg=(--config "$work/wb.conf")

# Installed, not set up: the configuration names no namespace and the blank one is not
# warmboot's. restore --boot (the initramfs, the unit) leaves it alone and the boot goes on.
cat >"$work/idle.conf" <<CONF
state_dir = $work/idle/state
restore_dir = $work/idle/restore
report_dir = $work/idle/reports
history_dir = $work/idle/history
lock_file = $work/idle/lock
CONF
out=$("$wb" restore --config "$work/idle.conf" --boot 2>&1); check "restore --boot, not set up" 0 $?
grep -q "installed but idle" <<<"$out" && passes=$((passes + 1)) \
  || { echo "FAIL: restore --boot on a namespace not warmboot's: $out"; fails=$((fails + 1)); }
[[ $("$wb" status "${cfg[@]}" --json | json 'd["device"]["mode"]') == raw ]] \
  && passes=$((passes + 1)) || { echo "FAIL: the idle restore changed the namespace"; fails=$((fails + 1)); }

# Cold boot: nothing to restore, the memory becomes System RAM.
"$wb" restore "${cfg[@]}" >"$work/out" 2>&1; check "cold-boot restore" 0 $?
grep -q "nothing-to-restore" "$work/out" || { echo "FAIL: cold boot says nothing to restore"; fails=$((fails + 1)); }
st=$("$wb" status "${cfg[@]}" --json)
[[ $(json 'd["device"]["mode"]' <<<"$st") == system-ram && $(json 'd["device"]["blocks_online"]' <<<"$st") == 4 ]] \
  && passes=$((passes + 1)) || { echo "FAIL: status after cold boot: $st"; fails=$((fails + 1)); }

# Application state.
mkdir -p "$work/state/app/db"
head -c $((5 << 20)) /dev/urandom >"$work/state/app/db/table"
for i in $(seq 1 300); do echo "record $i" >"$work/state/app/$i.log"; done
ln -s db/table "$work/state/app/current"

"$wb" preserve "${cfg[@]}" --dry-run >/dev/null 2>&1; check "dry run" 0 $?
# A name in the state reaches the human output as text, never as a terminal control sequence.
mkfifo "$work/state/app/"$'\e[2J'"fifo"
"$wb" preserve "${cfg[@]}" --dry-run >"$work/out" 2>&1; check "dry run over a FIFO" 1 $?
grep -q "fifo" "$work/out" && ! grep -q $'\e' "$work/out" && passes=$((passes + 1)) \
  || { echo "FAIL: a name drove the terminal: $(od -c "$work/out" | head -5)"; fails=$((fails + 1)); }
rm -f "$work/state/app/"$'\e[2J'"fifo"
# A damaged last report (a field of the wrong type) counts as none: it must not stop every
# preserve with a bare exception message (nlohmann's value() throws on a wrong type).
mkdir -p "$work/reports"
echo '{"pack": {"generation": "seven"}}' >"$work/reports/preserve.json"
out=$("$wb" preserve "${cfg[@]}" --dry-run --json 2>&1); rc=$?
check "dry run over a damaged preserve report" 0 $rc
[[ $(json 'd["ok"]' <<<"$out" 2>/dev/null) == True ]] && passes=$((passes + 1)) \
  || { echo "FAIL: dry run over a damaged report: $out"; fails=$((fails + 1)); }
rm -f "$work/reports/preserve.json"
[[ $("$wb" status "${cfg[@]}" --json | json 'd["device"]["mode"]') == system-ram ]] \
  && passes=$((passes + 1)) || { echo "FAIL: dry run changed the mode"; fails=$((fails + 1)); }

"$wb" preserve "${cfg[@]}" --no-kexec --json >"$work/preserve.json"; check "preserve" 0 $?
[[ $(json 'd["image_sealed"]' <"$work/preserve.json") == True ]] && passes=$((passes + 1)) || { echo "FAIL: preserve sealed"; fails=$((fails + 1)); }
st=$("$wb" status "${cfg[@]}" --json)
[[ $(json 'd["device"]["mode"]' <<<"$st") == raw && $(json 'd["image"]["state"]' <<<"$st") == sealed ]] \
  && passes=$((passes + 1)) || { echo "FAIL: status after preserve: $st"; fails=$((fails + 1)); }

"$simctl" reboot "$work/sim"
"$wb" restore "${cfg[@]}" --json >"$work/restore.json"; check "restore" 0 $?
[[ $(json 'd["outcome"]' <"$work/restore.json") == restored ]] && passes=$((passes + 1)) || { echo "FAIL: outcome"; fails=$((fails + 1)); }
expect "restored state identical" diff -r "$work/state" "$work/restore"
st=$("$wb" status "${cfg[@]}" --json)
[[ $(json 'd["device"]["mode"]' <<<"$st") == system-ram && $(json 'd["last_restore"]["outcome"]' <<<"$st") == restored && \
   $(json 'd["last_preserve"]["image_sealed"]' <<<"$st") == True ]] \
  && passes=$((passes + 1)) || { echo "FAIL: status after restore: $st"; fails=$((fails + 1)); }
"$wb" status "${cfg[@]}" >/dev/null; check "human status" 0 $?

# A restore run again finds nothing to do and keeps the memory online.
"$wb" restore "${cfg[@]}" >/dev/null 2>&1; check "restore again" 0 $?

# Blocks left offline (warmboot reboot offlined them early, then systemd's kexec job was
# cancelled): status names them and says what brings them back; give-back does, and so does
# restore.
"$simctl" offline "$work/sim"
st=$("$wb" status "${cfg[@]}" --json)
[[ $(json 'd["next"]' <<<"$st") == *"are offline"*"'warmboot give-back' brings it back online"* ]] \
  && passes=$((passes + 1)) || { echo "FAIL: status names offline blocks: $st"; fails=$((fails + 1)); }
out=$("$wb" give-back "${cfg[@]}"); check "give-back onlines them" 0 $?
[[ $out == *"given-back: the pmem (namespace0.0, "*") is System RAM again"* ]] \
  && passes=$((passes + 1)) || { echo "FAIL: give-back's output: $out"; fails=$((fails + 1)); }
"$simctl" offline "$work/sim"
"$wb" restore "${cfg[@]}" >/dev/null 2>&1; check "restore onlines them" 0 $?
st=$("$wb" status "${cfg[@]}" --json)
[[ $(json 'd["next"]' <<<"$st") != *"are offline"* ]] \
  && passes=$((passes + 1)) || { echo "FAIL: blocks online again: $st"; fails=$((fails + 1)); }

# A stale image: sealed, then a boot that does not name it (through the firmware). Restore
# keeps it (exit 5) and its memory; status says how to take it; --image restores it.
rm -rf "$work/restore"
"$wb" preserve "${cfg[@]}" --no-kexec --json >"$work/preserve.json"; check "preserve 2" 0 $?
uuid=$(json 'd["pack"]["uuid"]' <"$work/preserve.json")
"$simctl" reboot "$work/sim" --cold
"$wb" restore "${cfg[@]}" >"$work/out" 2>&1; check "stale image kept" 5 $?
grep -q "was not meant for this boot" "$work/out" && grep -q "restore --image $uuid" "$work/out" \
  && passes=$((passes + 1)) || { echo "FAIL: stale message: $(cat "$work/out")"; fails=$((fails + 1)); }
[[ ! -e "$work/restore/app" ]] && passes=$((passes + 1)) || { echo "FAIL: stale image restored"; fails=$((fails + 1)); }
st=$("$wb" status "${cfg[@]}" --json)
[[ $(json 'd["device"]["mode"]' <<<"$st") == raw && $(json 'd["image"]["stale"]' <<<"$st") == True ]] \
  && passes=$((passes + 1)) || { echo "FAIL: status of a stale image: $st"; fails=$((fails + 1)); }
"$wb" status "${cfg[@]}" | grep -q "stale state is waiting.*restore --image $uuid" \
  && passes=$((passes + 1)) || { echo "FAIL: human status of a stale image"; fails=$((fails + 1)); }
# An image status cannot read (as a user not allowed to open /dev/pmem0) is unknown, not absent:
# no "no state waiting", no give-back advice, no warmboot_state_waiting 0.
mv "$work/sim/pmem.img" "$work/sim/pmem.img.away"
st=$("$wb" status "${cfg[@]}" --json --prometheus "$work/prom/unknown.prom"); rc=$?
mv "$work/sim/pmem.img.away" "$work/sim/pmem.img"
[[ $(json 'd["image"]["state"], d["image"]["waiting"], d["state"]["image_waiting"]' <<<"$st") == "('unknown', None, None)" \
  && $(json 'd["next"]' <<<"$st") == *"is unknown"* && $(json 'd["next"]' <<<"$st") != *"give-back"* ]] \
  && passes=$((passes + 1)) || { echo "FAIL: status of an unreadable image (exit $rc): $st"; fails=$((fails + 1)); }
! grep -q "warmboot_state_waiting" "$work/prom/unknown.prom" && passes=$((passes + 1)) \
  || { echo "FAIL: an unknown image exported as warmboot_state_waiting"; fails=$((fails + 1)); }
"$wb" restore "${cfg[@]}" --image nonsense >/dev/null 2>&1; check "--image not a uuid" 2 $?
"$wb" restore "${cfg[@]}" --image "${uuid^^}" --json >"$work/restore.json"; check "restore --image" 0 $?
[[ $(json 'd["image_intent"]' <"$work/restore.json") == requested ]] && passes=$((passes + 1)) || { echo "FAIL: intent requested"; fails=$((fails + 1)); }
expect "stale state restored on request" diff -r "$work/state" "$work/restore"

# State larger than the region: refused before hot-remove, memory stays online.
head -c $((600 << 20)) /dev/zero | tr '\0' 'x' >"$work/state/huge"
"$wb" preserve "${cfg[@]}" --no-kexec >"$work/out" 2>&1; check "oversized preserve refused" 1 $?
grep -q "short by" "$work/out" || { echo "FAIL: refusal names the shortfall"; fails=$((fails + 1)); }
[[ $("$wb" status "${cfg[@]}" --json | json 'd["device"]["blocks_online"]') == 4 ]] \
  && passes=$((passes + 1)) || { echo "FAIL: blocks online after refusal"; fails=$((fails + 1)); }
rm -f "$work/state/huge"

# A block that never goes offline: rolled back, named, nothing changed.
"$simctl" busy "$work/sim" 18 -1
"$wb" preserve "${cfg[@]}" --no-kexec >"$work/out" 2>&1; check "busy block refused" 1 $?
grep -q "memory18" "$work/out" || { echo "FAIL: busy block named: $(cat "$work/out")"; fails=$((fails + 1)); }
[[ $("$wb" status "${cfg[@]}" --json | json 'd["device"]["mode"]') == system-ram ]] \
  && passes=$((passes + 1)) || { echo "FAIL: mode after busy rollback"; fails=$((fails + 1)); }

# SIGTERM while blocks are being offlined: everything rolls back, the process says so.
"$simctl" hang "$work/sim" 17
cat "$work/wb.conf" >"$work/slow.conf"
printf 'offline_attempts = 1000\noffline_backoff_ms = 300\noffline_block_timeout_ms = 50\n' >>"$work/slow.conf"
"$wb" preserve --config "$work/slow.conf" --no-kexec >"$work/out" 2>&1 &
pid=$!
sleep 1.5
kill -TERM $pid
wait $pid; check "SIGTERM during offline" 1 $?
grep -q "interrupted by SIGTERM" "$work/out" || { echo "FAIL: says it was interrupted: $(cat "$work/out")"; fails=$((fails + 1)); }
[[ $("$wb" status "${cfg[@]}" --json | json 'd["device"]["mode"] + str(d["device"]["blocks_online"])') == system-ram4 ]] \
  && passes=$((passes + 1)) || { echo "FAIL: all blocks back online after SIGTERM"; fails=$((fails + 1)); }
"$simctl" reboot "$work/sim"  # clears the hang
"$wb" restore "${cfg[@]}" >/dev/null 2>&1

# The product binary has no simulator, and no configuration can ask for one.
[[ $(nm -C "$real_wb" 2>/dev/null | grep -c Simulated) == 0 && $(nm -C "$wb" | grep -c SimulatedPmem) -gt 0 ]] \
  && passes=$((passes + 1)) || { echo "FAIL: the product binary links the simulator"; fails=$((fails + 1)); }
echo "platform = simulated:$work/sim" >"$work/sim.conf"
"$real_wb" status --config "$work/sim.conf" >"$work/out" 2>&1; check "platform key refused" 1 $?
grep -q "sim.conf:1" "$work/out" || { echo "FAIL: refusal names the line: $(cat "$work/out")"; fails=$((fails + 1)); }
"$wb" kexec --load-only >/dev/null 2>&1; check "warmboot-sim never kexecs" 1 $?

# Usage errors and the real platform on a machine without pmem.
# Under systemd the standalone reboot is refused (it would skip the services' ordered stop),
# before anything changes; --no-kexec and --dry-run stay allowed.
before=$("$wb" status "${cfg[@]}" --json | json 'd["device"]["mode"]')
out=$(WARMBOOT_SIM_SYSTEMD=1 "$wb" preserve "${cfg[@]}" 2>&1); check "preserve under systemd" 1 $?
grep -q "'warmboot reboot' takes the warm path" <<<"$out" && passes=$((passes + 1)) \
  || { echo "FAIL: preserve under systemd names warmboot reboot: $out"; fails=$((fails + 1)); }
[[ $("$wb" status "${cfg[@]}" --json | json 'd["device"]["mode"]') == "$before" ]] \
  && passes=$((passes + 1)) || { echo "FAIL: preserve under systemd changed the namespace"; fails=$((fails + 1)); }
WARMBOOT_SIM_SYSTEMD=1 "$wb" preserve "${cfg[@]}" --dry-run >/dev/null 2>&1; check "dry run under systemd" 0 $?
out=$(WARMBOOT_SIM_SYSTEMD=1 "$wb" kexec "${cfg[@]}" 2>&1); check "kexec under systemd" 1 $?
grep -q "systemctl kexec" <<<"$out" && passes=$((passes + 1)) \
  || { echo "FAIL: kexec under systemd names systemctl kexec: $out"; fails=$((fails + 1)); }
# warmboot-prepare.service's stop at a shutdown that is not a kexec: one line, nothing changed.
out=$(WARMBOOT_SIM_SYSTEMD=1 "$wb" preserve "${cfg[@]}" --systemd-prepare 2>&1); check "prepare, no kexec" 0 $?
grep -q "does not end in kexec" <<<"$out" && passes=$((passes + 1)) \
  || { echo "FAIL: prepare at a shutdown that is not a kexec: $out"; fails=$((fails + 1)); }
"$wb" preserve "${cfg[@]}" --systemd --systemd-prepare >/dev/null 2>&1; check "two stops at once" 2 $?
"$wb" preserve --bogus >/dev/null 2>&1; check "preserve usage" 2 $?
"$wb" restore "${cfg[@]}" extra >/dev/null 2>&1; check "restore usage" 2 $?
"$wb" status --config /nonexistent.conf >/dev/null 2>&1; check "missing --config" 1 $?
# A usage error is exit 2 whatever the configuration: checked before it is read.
"$wb" restore --config /nonexistent.conf --image nonsense >/dev/null 2>&1; check "restore --image, bad config" 2 $?
"$wb" preserve --config /nonexistent.conf --systemd --dry-run >/dev/null 2>&1; check "preserve --systemd --dry-run, bad config" 2 $?
if [[ ! -d /sys/bus/nd/devices ]] || [[ -z "$(ls /sys/bus/nd/devices 2>/dev/null | grep namespace)" ]]; then
  echo "chunk_size = 64K" >"$work/real.conf"
  out=$("$real_wb" status --config "$work/real.conf" 2>&1); rc=$?
  check "no pmem: exit 1" 1 $rc
  grep -q "no pmem namespace found" <<<"$out" && passes=$((passes + 1)) || { echo "FAIL: no-pmem message: $out"; fails=$((fails + 1)); }
  out=$("$real_wb" status --config "$work/real.conf" --json); rc=$?
  check "no pmem --json exit" 1 $rc
  [[ $(json 'd["error"]["code"]' <<<"$out") == not-found ]] && passes=$((passes + 1)) || { echo "FAIL: no-pmem json"; fails=$((fails + 1)); }
fi

# restore --boot: one restore per boot, the boot type recorded (docs/systemd.md).
echo "history_dir = $work/history" >>"$work/wb.conf"
"$simctl" reboot "$work/sim" --cold
rm -rf "$work/reports"
out=$("$wb" restore "${cfg[@]}" --boot); check "restore --boot" 0 $?
[[ $(wc -l <<<"$out") == 1 && $out == "warmboot: cold boot: this boot's command line names no image; restore "* ]] \
  && passes=$((passes + 1)) || { echo "FAIL: restore --boot's one line: $out"; fails=$((fails + 1)); }
out=$("$wb" restore "${cfg[@]}" --boot --json); check "restore --boot again" 0 $?
[[ $(json 'd["restored_now"]' <<<"$out") == False && $(json 'd["boot"]["type"]' <<<"$out") == cold ]] \
  && passes=$((passes + 1)) || { echo "FAIL: restore --boot again: $out"; fails=$((fails + 1)); }
[[ $(wc -l <"$work/history/boots.jsonl") == 1 ]] && passes=$((passes + 1)) || { echo "FAIL: one history line"; fails=$((fails + 1)); }
st=$("$wb" status "${cfg[@]}" --json)
[[ $(json 'd["boot"]["type"]' <<<"$st") == cold ]] && passes=$((passes + 1)) || { echo "FAIL: status boot: $st"; fails=$((fails + 1)); }
"$wb" status "${cfg[@]}" | grep -q "this boot: cold (this boot's command line names no image)" \
  && passes=$((passes + 1)) || { echo "FAIL: status shows the boot type"; fails=$((fails + 1)); }

out=$("$wb" give-back "${cfg[@]}" --boot); check "give-back --boot, cold" 0 $?
[[ $out == "warmboot: nothing left to give back: this boot's restore (nothing-to-restore) gave the memory back itself" ]] \
  && passes=$((passes + 1)) || { echo "FAIL: give-back --boot after a cold boot: $out"; fails=$((fails + 1)); }
grep -qx 'warmboot_boot_type{type="cold"} 1' "$work/prom/warmboot.prom" \
  && passes=$((passes + 1)) || { echo "FAIL: restore --boot's metrics (cold)"; fails=$((fails + 1)); }
"$wb" report "${cfg[@]}" >/dev/null 2>&1; check "no warm reboot to report" 1 $?

# A warm reboot's blackout: restore --boot writes the metrics, status shows it on one screen,
# report draws it (docs/cli.md, "status", "report", "Metrics").
rm -rf "$work/restore"
"$wb" preserve "${cfg[@]}" --no-kexec >/dev/null 2>&1; check "preserve for the timeline" 0 $?
"$simctl" reboot "$work/sim"
"$wb" restore "${cfg[@]}" --boot >/dev/null; check "warm restore --boot" 0 $?
grep -qx 'warmboot_boot_type{type="warm"} 1' "$work/prom/warmboot.prom" && grep -q '^warmboot_blackout_seconds ' "$work/prom/warmboot.prom" \
  && passes=$((passes + 1)) || { echo "FAIL: restore --boot's metrics (warm)"; fails=$((fails + 1)); }
# The state is back, the pmem not yet: warmboot-give-back.service returns it after
# warmboot-state.target (give_back_late), off the blackout. Status says so; give-back does it,
# records it in this boot's restore report and rewrites the metrics.
st=$("$wb" status "${cfg[@]}" --json)
[[ $(json 'd["device"]["mode"]' <<<"$st") == raw && \
   $(json 'd["next"]' <<<"$st") == *"left it for warmboot-give-back.service"*"'warmboot give-back' returns it now"* ]] \
  && grep -qx 'warmboot_memory_returned 0' "$work/prom/warmboot.prom" \
  && passes=$((passes + 1)) || { echo "FAIL: status with the give-back pending: $st"; fails=$((fails + 1)); }
# A restore run by hand after the boot's, that failed, is a line of the boot's kept report
# (restore.cc, KeepThisBootsReport; tested in give_back_test.cc): status names it.
python3 - "$work/reports/restore.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["later_runs"] = [{"outcome": "failed", "ok": False, "error": "cannot probe: EIO"}]
json.dump(d, open(sys.argv[1], "w"))
PY
st=$("$wb" status "${cfg[@]}" --json)
[[ $(json 'd["next"]' <<<"$st") == *"the last 'warmboot restore' run after it failed: cannot probe: EIO"*"'warmboot give-back' returns it now" ]] \
  && passes=$((passes + 1)) || { echo "FAIL: status with a failed restore by hand: $st"; fails=$((fails + 1)); }
out=$("$wb" give-back "${cfg[@]}" --boot --json); check "give-back after the restore" 0 $?
[[ $(json 'd["outcome"]' <<<"$out") == given-back && $(json 'd["recorded"]' <<<"$out") == True ]] \
  && grep -qx 'warmboot_memory_returned 1' "$work/prom/warmboot.prom" \
  && grep -q '^warmboot_give_back_seconds ' "$work/prom/warmboot.prom" \
  && [[ $(json 'd["give_back"]["outcome"]' <"$work/reports/restore.json") == given-back ]] \
  && passes=$((passes + 1)) || { echo "FAIL: give-back: $out"; fails=$((fails + 1)); }
out=$("$wb" give-back "${cfg[@]}"); check "give-back, nothing to do" 0 $?
[[ $out == "nothing-to-do: "* ]] && passes=$((passes + 1)) || { echo "FAIL: give-back again: $out"; fails=$((fails + 1)); }
out=$("$wb" give-back "${cfg[@]}" --boot); check "give-back --boot, done" 0 $?
[[ $out == *"the give-back this boot's restore left for later is done" ]] && passes=$((passes + 1)) || { echo "FAIL: give-back --boot again: $out"; fails=$((fails + 1)); }
"$wb" status "${cfg[@]}" >"$work/out"; check "status after a warm reboot" 0 $?
grep -q "^last warm reboot: this one, .*: blackout " "$work/out" && grep -q "^  shutdown and kexec " "$work/out" \
  && [[ $(wc -l <"$work/out") -le 25 ]] \
  && passes=$((passes + 1)) || { echo "FAIL: status's screen:"; cat "$work/out"; fails=$((fails + 1)); }
st=$("$wb" status "${cfg[@]}" --json --prometheus "$work/prom/status.prom"); check "status --prometheus" 0 $?
[[ $(json 'd["timeline"]["seconds"] > 0 and d["timeline"]["kexec_method"] in ("tsc", "realtime")' <<<"$st") == True && \
   $(json 'd["prometheus"]["written"]' <<<"$st") == True ]] \
  && grep -qx 'warmboot_state_waiting 0' "$work/prom/status.prom" \
  && passes=$((passes + 1)) || { echo "FAIL: status --json timeline: $st"; fails=$((fails + 1)); }
"$wb" status "${cfg[@]}" --prometheus "$work/absent/x.prom" >/dev/null 2>&1; check "status --prometheus, no directory" 1 $?
out=$("$wb" report "${cfg[@]}" --svg "$work/timeline.svg" --json); check "report --svg" 0 $?
[[ $(json 'd["segments"][-1]["name"].startswith("restore: ")' <<<"$out") == True ]] \
  && python3 -c "import sys, xml.dom.minidom as m; d = m.parse(sys.argv[1]); assert d.documentElement.tagName == 'svg'" "$work/timeline.svg" \
  && passes=$((passes + 1)) || { echo "FAIL: report --svg: $out"; fails=$((fails + 1)); }
"$wb" --help | grep -q "^  report " && passes=$((passes + 1)) || { echo "FAIL: --help lists report"; fails=$((fails + 1)); }

echo "machine CLI: $passes passed, $fails failed"
[[ $fails -eq 0 ]]
