# Helpers for the guest side of the end-to-end test (sourced by /init, busybox sh).
#
# Everything the host needs goes to the serial console as lines starting with WB-E2E:
#   WB-E2E step=NAME ok=1|0 t=UPTIME [key=value ...]     one step of the scenario
#   WB-E2E mem name=NAME memtotal_kb=N memfree_kb=N t=UPTIME
#   WB-E2E-JSON-BEGIN name=NAME                          a command's JSON document follows
#   WB-E2E-JSON-END name=NAME rc=N                       ... and ends (absent when it kexec'd)
#   WB-E2E result=pass|fail stage=N t=UPTIME [reason=...]
# The host parses these (tests/e2e/harness/qemu.py); nothing else on the console is relied
# upon.

E2E_RUN=/run/e2e
KVER=$(uname -r)

now() { cut -d' ' -f1 /proc/uptime; }

# param NAME DEFAULT: the last wbe2e.NAME=VALUE on the kernel command line.
param() {
  _v=$2
  for _w in $(cat /proc/cmdline); do
    case "$_w" in wbe2e.$1=*) _v=${_w#*=} ;; esac
  done
  echo "$_v"
}

mark() {
  _s=$1 _ok=$2
  shift 2
  echo "WB-E2E step=$_s ok=$_ok t=$(now) $*"
}

memmark() {
  _total=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
  _free=$(awk '/^MemFree:/ {print $2}' /proc/meminfo)
  _online=0 _offline=0
  for _b in /sys/devices/system/memory/memory*/state; do
    case "$(cat "$_b")" in online) _online=$((_online + 1)) ;; *) _offline=$((_offline + 1)) ;; esac
  done
  echo "WB-E2E mem name=$1 memtotal_kb=$_total memfree_kb=$_free blocks_online=$_online blocks_offline=$_offline t=$(now)"
}

diag() {
  echo "WB-E2E-DIAG-BEGIN"
  echo "--- /proc/cmdline"; cat /proc/cmdline
  echo "--- /proc/iomem"; cat /proc/iomem
  echo "--- memory blocks"
  for _b in /sys/devices/system/memory/memory*; do
    echo "$(basename "$_b") $(cat "$_b/state") $(cat "$_b/valid_zones" 2>/dev/null)"
  done
  echo "--- /sys/bus/nd/devices"; ls -l /sys/bus/nd/devices/ 2>&1
  echo "--- /sys/bus/dax/devices"; ls -l /sys/bus/dax/devices/ 2>&1
  if command -v ndctl >/dev/null; then echo "--- ndctl list -RNDi"; ndctl list -RNDi 2>&1; fi
  if command -v daxctl >/dev/null; then echo "--- daxctl list -M"; daxctl list -M 2>&1; fi
  echo "--- df"; df 2>&1
  echo "WB-E2E-DIAG-END"
  dmesg_dump
}

# The kernel log of this boot (the console shows only errors): the host scans it for warnings.
dmesg_dump() {
  echo "WB-E2E-DMESG-BEGIN stage=$STAGE"
  dmesg
  echo "WB-E2E-DMESG-END stage=$STAGE"
}

halt_now() {
  sync
  poweroff -f
  sleep 5
  echo o >/proc/sysrq-trigger
}

fail() {
  echo "WB-E2E result=fail stage=$STAGE t=$(now) reason=$*"
  diag
  halt_now
}

pass() {
  echo "WB-E2E result=pass stage=$STAGE t=$(now) $*"
  if [ "$(param diag 0)" = 1 ]; then diag; else dmesg_dump; fi
  halt_now
}

# emit_json NAME FILE RC: a JSON document between markers.
emit_json() {
  echo "WB-E2E-JSON-BEGIN name=$1"
  cat "$2"
  echo "WB-E2E-JSON-END name=$1 rc=$3"
}

# run_json NAME "RC..." CMD...: runs CMD (whose stdout is one JSON document), prints it between
# markers with its stderr, marks the step and fails the scenario unless the exit code is one of
# the expected ones. Leaves the document in $E2E_RUN/NAME.json and the exit code in $RC.
run_json() {
  _name=$1 _want=$2
  shift 2
  _t0=$(now)
  "$@" >"$E2E_RUN/$_name.json" 2>"$E2E_RUN/$_name.err"
  RC=$?
  emit_json "$_name" "$E2E_RUN/$_name.json" "$RC"
  if [ -s "$E2E_RUN/$_name.err" ]; then
    echo "WB-E2E-STDERR-BEGIN name=$_name"
    cat "$E2E_RUN/$_name.err"
    echo "WB-E2E-STDERR-END name=$_name"
  fi
  for _rc in $_want; do
    if [ "$RC" = "$_rc" ]; then
      mark "$_name" 1 "rc=$RC start=$_t0"
      return 0
    fi
  done
  mark "$_name" 0 "rc=$RC start=$_t0 expected_rc=$(echo $_want | tr ' ' ,)"
  fail "$_name exited $RC, expected one of: $_want"
}

# json_num FILE KEY: the first numeric value of "KEY": N in a JSON document (good enough for
# warmboot's pretty-printed output).
json_num() {
  sed -n "s/.*\"$2\": *\([0-9][0-9]*\).*/\1/p" "$1" | head -n 1
}

load_modules() {
  _t0=$(now)
  for _m in $MODULES; do
    /sbin/modprobe "$_m" || fail "modprobe $_m failed"
  done
  mark modules 1 "start=$_t0 modules=$(echo $MODULES | tr ' ' ,)"
}

# Waits until the pmem namespace exists and whatever claims it has been probed: the raw block
# device, or the dax device bound to a driver.
wait_pmem() {
  _t0=$(now)
  _i=0
  while [ $_i -lt 300 ]; do
    if [ -e /sys/bus/nd/devices/namespace0.0 ]; then
      if [ -b /dev/pmem0 ] || [ -e /sys/bus/dax/devices/dax0.0/driver ]; then
        mark wait-pmem 1 "start=$_t0 pmem0=$([ -b /dev/pmem0 ] && echo 1 || echo 0) dax=$([ -e /sys/bus/dax/devices/dax0.0 ] && echo 1 || echo 0)"
        return 0
      fi
    fi
    usleep 100000
    _i=$((_i + 1))
  done
  mark wait-pmem 0 "start=$_t0"
  fail "no pmem namespace appeared within 30 s"
}

# The next kernel's initrd: this running rootfs repacked (the mounts are not in it), plus the
# device nodes and mount points that are hidden under the mounts.
make_initrd() {
  _t0=$(now)
  _nodes=$E2E_RUN/nodes
  if [ ! -e $_nodes/dev/console ]; then
    mkdir -p $_nodes/dev $_nodes/proc $_nodes/sys $_nodes/run $_nodes/tmp
    mknod -m 600 $_nodes/dev/console c 5 1
    mknod -m 666 $_nodes/dev/null c 1 3
  fi
  (cd / && find . -xdev | cpio -o -H newc 2>/dev/null) >$E2E_RUN/initrd.cpio || fail "cannot repack the rootfs"
  (cd $_nodes && printf 'dev\ndev/console\ndev/null\nproc\nsys\nrun\ntmp\n' | cpio -o -H newc 2>/dev/null) >>$E2E_RUN/initrd.cpio
  mark make-initrd 1 "start=$_t0 bytes=$(stat -c %s $E2E_RUN/initrd.cpio)"
}

# kexec_mode: "warmboot" when this warmboot has its own kexec ('warmboot preserve' then ends
# with the reboot), else "tools" (preserve --no-kexec, then kexec-tools). wbe2e.kexec= forces.
kexec_mode() {
  _m=$(param kexec auto)
  if [ "$_m" = auto ]; then
    if warmboot --help 2>&1 | grep -q '^ *kexec'; then _m=warmboot; else _m=tools; fi
  fi
  echo "$_m"
}

# write_config NEXT_STAGE: /etc/warmboot/warmboot.conf for this boot (the next kernel, initrd
# and the marker for the next stage go into the kexec keys), plus the lines in $CONFIG_EXTRA.
write_config() {
  mkdir -p /etc/warmboot
  cat >/etc/warmboot/warmboot.conf <<EOF
# Written by the e2e guest (tests/e2e/guest/lib.sh). The namespace is handed to warmboot by
# name (the NVDIMM's was made devdax by ndctl, so nothing on the device marks it as warmboot's).
namespace = namespace0.0
state_dir = /run/warmboot/state
restore_dir = /run/warmboot/restore
report_dir = /run/warmboot/reports
compression = auto
kernel = /boot/vmlinuz-$KVER
initrd = $E2E_RUN/initrd.cpio
append = wbe2e.stage=$1
EOF
  [ -n "$CONFIG_EXTRA" ] && printf '%s\n' "$CONFIG_EXTRA" >>/etc/warmboot/warmboot.conf
  return 0
}

# cmdline_token: the image this boot's command line names (the last warmboot.image=, as
# warmboot reads it) and how many name one, as "image_token=UUID|none image_tokens=N".
cmdline_token() {
  _tok=none _n=0
  for _w in $(cat /proc/cmdline); do
    case "$_w" in warmboot.image=*) _tok=${_w#*=} _n=$((_n + 1)) ;; esac
  done
  echo "image_token=$_tok image_tokens=$_n"
}

# json_str FILE SECTION KEY: the string value of "KEY" inside the flat object "SECTION": {...}
# of a pretty-printed JSON document ("" when absent).
json_str() {
  sed -n "/\"$2\": {/,/}/s/.*\"$3\": *\"\([^\"]*\)\".*/\1/p" "$1" | head -n 1
}

# kexec_to STAGE [IMAGE]: reboot into the next stage with kexec-tools (the image is already
# sealed). The command line is this boot's (as --reuse-cmdline would pass it) less any
# warmboot.image=, plus the stage and, given IMAGE (a sealed image's uuid), warmboot.image=IMAGE:
# the next boot's restore takes only the image its command line names, as warmboot's own kexec
# names the image it sealed and never carries the running boot's token on.
kexec_to() {
  _t0=$(now)
  _cl=
  for _w in $(cat /proc/cmdline); do
    case "$_w" in warmboot.image=*) ;; *) _cl="$_cl$_w " ;; esac
  done
  _cl="${_cl}wbe2e.stage=$1"
  [ -n "$2" ] && _cl="$_cl warmboot.image=$2"
  kexec -s -l /boot/vmlinuz-$KVER --initrd=$E2E_RUN/initrd.cpio --command-line="$_cl" \
    >$E2E_RUN/kexec.out 2>&1
  _rc=$?
  if [ $_rc != 0 ]; then
    cat $E2E_RUN/kexec.out
    mark kexec-load 0 "start=$_t0 rc=$_rc"
    fail "kexec -s -l failed"
  fi
  mark kexec-load 1 "start=$_t0 loader=kexec-tools image_token=${2:-none}"
  mark kexec-exec 1 "next_stage=$1"
  dmesg_dump
  sync
  kexec -e
  mark kexec-exec 0 "rc=$?"
  fail "kexec -e returned"
}

# preserve_and_kexec NAME NEXT_STAGE: warmboot preserve, then the reboot into NEXT_STAGE.
preserve_and_kexec() {
  _name=$1 _next=$2
  make_initrd
  write_config "$_next"
  _mode=$(kexec_mode)
  if [ "$_mode" = warmboot ]; then
    dmesg_dump
    mark kexec-exec 1 "next_stage=$_next loader=warmboot"
    # Printed straight to the console: preserve prints its report, then kexecs.
    echo "WB-E2E-JSON-BEGIN name=$_name"
    _t0=$(now)
    warmboot preserve --json
    _rc=$?
    echo "WB-E2E-JSON-END name=$_name rc=$_rc"
    mark "$_name" 0 "rc=$_rc start=$_t0"
    fail "warmboot preserve returned ($_rc) instead of rebooting"
  fi
  run_json "$_name" 0 warmboot preserve --no-kexec --json
  memmark "after-$_name"
  kexec_to "$_next" "$(json_str "$E2E_RUN/$_name.json" pack uuid)"
}
