#!/bin/bash
# The initramfs's local-bottom script (initramfs/scripts/local-bottom/warmboot): it runs
# 'warmboot give-back --boot' only where the real root's init will not run
# warmboot-give-back.service, follows init's links inside the root, and is silent when the
# give-back has nothing to do. A stand-in warmboot records its calls.
#   usage: local_bottom_test.sh SCRIPT
set -u
script=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0 passes=0

cat >"$work/warmboot" <<'WB'
#!/bin/sh
echo "$*" >>"$CALLS"
echo "${REPLY_LINE:-warmboot: nothing left to give back: this boot's restore (nothing-to-restore) gave the memory back itself}"
exit "${REPLY_RC:-0}"
WB
chmod +x "$work/warmboot"

# root NAME: a fresh root; with_unit adds the give-back unit.
root() { rm -rf "$work/$1"; mkdir -p "$work/$1/sbin" "$work/$1/lib/systemd/system" "$work/$1/etc/alternatives"; }
with_unit() { : >"$work/$1/lib/systemd/system/warmboot-give-back.service"; }
# run NAME [INIT]: runs the script against root NAME; sets $calls and $out.
run() {
  : >"$work/calls"
  out=$(CALLS=$work/calls WARMBOOT=$work/warmboot rootmnt=$work/$1 init=${2:-} sh "$script" 2>&1)
  calls=$(cat "$work/calls")
}
expect() {  # expect NAME CONDITION
  if eval "$2"; then passes=$((passes + 1)); else echo "FAIL: $1 (calls: '$calls', out: '$out')"; fails=$((fails + 1)); fi
}

root systemd; with_unit systemd; ln -s ../lib/systemd/systemd "$work/systemd/sbin/init"
run systemd
expect "systemd as init with the unit: left to the unit" '[ -z "$calls" ] && [ -z "$out" ]'

root chain; with_unit chain
ln -s /etc/alternatives/init "$work/chain/sbin/init"
ln -s /lib/systemd/systemd "$work/chain/etc/alternatives/init"
run chain
expect "systemd through a chain of links: left to the unit" '[ -z "$calls" ]'

root named; with_unit named
run named /lib/systemd/systemd
expect "init= naming systemd: left to the unit" '[ -z "$calls" ]'

root sysv; with_unit sysv; : >"$work/sysv/sbin/init"
run sysv
expect "another init: given back here" '[ "$calls" = "give-back --boot" ]'
expect "nothing to give back: silent" '[ -z "$out" ]'

root nounit; ln -s ../lib/systemd/systemd "$work/nounit/sbin/init"
REPLY_LINE="given-back: the pmem (namespace0.0, 512 MiB) is System RAM again" run nounit
expect "systemd without the unit: given back here" '[ "$calls" = "give-back --boot" ]'
expect "a give-back done says so" '[[ $out == "warmboot: give-back in the initramfs"*"exit 0: given-back: the pmem"* ]]'

REPLY_RC=1 REPLY_LINE="warmboot give-back: cannot read namespace0.0" run sysv
expect "a failure is said, and the boot goes on" '[[ $out == *"exit 1: warmboot give-back: cannot read namespace0.0"* ]]'

out=$(WARMBOOT=$work/absent rootmnt=$work/sysv sh "$script" 2>&1); rc=$?
calls=""
expect "no warmboot in the initramfs: nothing" '[ $rc = 0 ] && [ -z "$out" ]'

echo "local-bottom: $passes passed, $fails failed"
[ $fails -eq 0 ]
