#!/usr/bin/env bash
# warmboot's system-shutdown hook (systemd/system-shutdown/warmboot): it jumps (kexec -e) only at
# a reboot the preserve marked, with a kernel loaded; every other shutdown it leaves alone, and
# it says why when it cannot jump. A stand-in kexec records its arguments; nothing is loaded.
# usage: shutdown_hook_test.sh HOOK
set -uo pipefail
hook=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
passes=0
ok() { passes=$((passes + 1)); }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
mkdir -p "$work/run" "$work/bin"
cat >"$work/bin/kexec" <<STUB
#!/bin/sh
echo "\$*" >"$work/kexec-args"
STUB
chmod +x "$work/bin/kexec"
echo 1 >"$work/loaded"
export WB_HOOK_RUN=$work/run WB_HOOK_LOADED=$work/loaded WB_HOOK_KEXEC=$work/bin/kexec
run() { rm -f "$work/kexec-args"; out=$("$hook" "$@" 2>&1); }

# No marker: a reboot is ordinary.
run reboot
[[ ! -e $work/kexec-args && -z $out ]] && ok || bad "reboot without a marker: $out"
echo '{"image": "x"}' >"$work/run/kexec-at-reboot.json"
# Marked, but the verb is not reboot: nothing.
for verb in poweroff halt kexec; do
  run "$verb"
  [[ ! -e $work/kexec-args ]] && ok || bad "$verb jumped"
done
# Marked reboot with a kernel loaded: kexec -e.
run reboot
[[ $(cat "$work/kexec-args" 2>/dev/null) == "-e" && $out == *"rebooting into the next kernel"* ]] \
  && ok || bad "marked reboot: args $(cat "$work/kexec-args" 2>/dev/null), said: $out"
# Another hook still running beside it (the same parent): the jump waits for it to end.
rm -f "$work/kexec-args" "$work/sibling-done"
cat >"$work/bin/kexec" <<STUB
#!/bin/sh
[ -e "$work/sibling-done" ] && echo "\$*" >"$work/kexec-args" || echo early >"$work/kexec-args"
STUB
bash -c "(sleep 1; touch '$work/sibling-done') & '$hook' reboot; wait" >/dev/null 2>&1
[[ $(cat "$work/kexec-args" 2>/dev/null) == "-e" ]] && ok || bad "jumped before the other hook ended: $(cat "$work/kexec-args" 2>/dev/null)"
# Another hook that has ended but is not reaped yet (a zombie: systemd-shutdown reaps its hooks
# in its own order) is not waited for.
rm -f "$work/kexec-args"
start=$SECONDS
WB_HOOK_WAIT_S=30 python3 -c '
import os, subprocess, sys, time
if os.fork() == 0:
    os._exit(0)
time.sleep(0.3)  # ended, unreaped
subprocess.run([sys.argv[1], "reboot"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
' "$hook"
[[ $(cat "$work/kexec-args" 2>/dev/null) == "-e" && $((SECONDS - start)) -lt 10 ]] && ok \
  || bad "waited for an ended hook: $((SECONDS - start)) s, args $(cat "$work/kexec-args" 2>/dev/null)"
# kexec -e failing: it says so (the reboot goes on through the firmware).
cat >"$work/bin/kexec" <<STUB
#!/bin/sh
exit 7
STUB
run reboot
[[ $out == *"kexec -e failed (exit 7)"* ]] && ok || bad "a failed kexec -e: $out"
cat >"$work/bin/kexec" <<STUB
#!/bin/sh
echo "\$*" >"$work/kexec-args"
STUB
# No kernel loaded any more: it says so and does not jump.
echo 0 >"$work/loaded"
run reboot
[[ ! -e $work/kexec-args && $out == *"no kernel is loaded"* ]] && ok || bad "unloaded: $out"
# No kexec-tools: it says so.
echo 1 >"$work/loaded"
WB_HOOK_KEXEC=$work/none run reboot
[[ ! -e $work/kexec-args && $out == *"kexec-tools is not installed"* ]] && ok || bad "no kexec: $out"
echo "shutdown hook: $passes passed, $fails failed"
[[ $fails == 0 ]]
