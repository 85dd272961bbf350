# The stages of the debian-* scenarios (sourced by run, dash). Each prints the console protocol
# (lib.sh) and ends with pass or fail, which power the machine off through systemd.

# usec_to_s N: microseconds as seconds with two decimals.
usec_to_s() { awk -v u="$1" 'BEGIN { printf "%.2f", u / 1000000 }'; }

# Debian's ndctl package enables ndctl-monitor.service, which exits "no dimms to monitor"
# (status 250) when the pmem is legacy (memmap=: a region, no DIMMs): every such Debian 12
# machine with ndctl installed boots "degraded" for it. Allowed by name, and reported.
KNOWN_FAILED="ndctl-monitor.service"

# Waits until systemd has finished starting up (the boot's jobs are done) and marks where it
# got: the system state, the failed units, and when userspace started (systemd, after the
# kernel and initramfs-tools' busybox initramfs: systemd counts both as "kernel") and
# multi-user.target was reached (systemd's monotonic timestamps, seconds since the kernel
# started).
mark_systemd() {
  _t0=$(now)
  _state=$(systemctl is-system-running --wait)
  _target=$(systemctl is-active multi-user.target)
  _failed=$(systemctl --failed --no-legend --plain | awk '{print $1}' | tr '\n' , | sed 's/,$//')
  _userspace=$(systemctl show -p UserspaceTimestampMonotonic --value)
  _finish=$(systemctl show -p FinishTimestampMonotonic --value)
  _mu=$(systemctl show -p ActiveEnterTimestampMonotonic --value multi-user.target)
  echo "systemd-analyze: $(systemd-analyze time 2>&1 | tr '\n' ' ')"
  _unknown=
  for _u in $(echo "$_failed" | tr , ' '); do
    case " $KNOWN_FAILED " in *" $_u "*) ;; *) _unknown="$_unknown $_u" ;; esac
  done
  _ok=0
  if [ "$_target" = active ] && [ -z "$_unknown" ]; then
    case "$_state" in running) _ok=1 ;; degraded) [ -n "$_failed" ] && _ok=1 ;; esac
  fi
  mark systemd $_ok "start=$_t0 state=$_state multi_user=$_target failed=${_failed:-none}" \
    "version=$(systemctl --version | awk 'NR == 1 {print $2}')" \
    "userspace_t=$(usec_to_s "$_userspace")" \
    "multi_user_t=$(usec_to_s "$_mu") finished_t=$(usec_to_s "$_finish")"
  if [ $_ok = 0 ]; then
    for _u in $(echo "$_failed" | tr , ' '); do systemctl status --no-pager -l "$_u" 2>&1; done
    fail "systemd: state $_state, multi-user.target $_target, failed units: ${_failed:-none}"
  fi
  for _u in $(echo "$_failed" | tr , ' '); do
    echo "known failed unit $_u: $(journalctl -b -o cat -u "$_u" 2>&1 | grep -v '^Started\|^Starting' | head -n 3 | tr '\n' ' ')"
  done
}

# The legacy pmem region the kernel made of memmap=, with what ndctl sees of it.
mark_pmem() {
  _t0=$(now)
  _i=0
  while [ ! -e /sys/bus/nd/devices/region0 ] && [ $_i -lt 300 ]; do
    sleep 0.1
    _i=$((_i + 1))
  done
  if [ ! -e /sys/bus/nd/devices/region0 ]; then
    mark pmem-region 0 "start=$_t0"
    fail "no /sys/bus/nd/devices/region0 within 30 s"
  fi
  _size=$(cat /sys/bus/nd/devices/region0/size)
  _ns=$(ls -d /sys/bus/nd/devices/namespace0.* 2>/dev/null | xargs -n1 basename 2>/dev/null | tr '\n' , | sed 's/,$//')
  mark pmem-region 1 "start=$_t0 size=$_size namespaces=${_ns:-none} pmem0=$([ -b /dev/pmem0 ] && echo 1 || echo 0)"
  run_json ndctl-list 0 ndctl list -RN
}

# warmbootd.socket listens; a connection (warmboot api status) starts warmbootd.
mark_daemon() {
  _t0=$(now)
  _sock=$(systemctl is-active warmbootd.socket)
  _before=$(systemctl is-active warmbootd.service)
  _ok=1
  [ "$_sock" = active ] || _ok=0
  mark warmbootd-socket $_ok "start=$_t0 socket=$_sock service=$_before"
  [ $_ok = 1 ] || fail "warmbootd.socket is $_sock"
  run_json api-status 0 warmboot api status --json
  _after=$(systemctl is-active warmbootd.service)
  _ok=0
  [ "$_after" = active ] && _ok=1
  mark warmbootd-started $_ok "service=$_after pid=$(systemctl show -p MainPID --value warmbootd.service)"
  [ $_ok = 1 ] || fail "warmbootd.service is $_after after a connection to its socket"
}

# What the units to come (restore early, preserve at shutdown) will depend on, shown, not
# judged: /run's file system, whether a kexec kernel is loaded, and what systemctl kexec says
# without one (systemd loads one itself only from a boot loader entry, on EFI).
mark_facts() {
  _out=$(systemctl --dry-run kexec 2>&1)
  _rc=$?
  echo "systemctl --dry-run kexec (rc $_rc): $(echo "$_out" | tr '\n' ' ')"
  mark facts 1 "run_fs=$(findmnt -no FSTYPE /run) kexec_loaded=$(cat /sys/kernel/kexec_loaded)" \
    "systemctl_kexec_dry_run_rc=$_rc"
}

scenario_debian_boot_1() {
  mark_systemd
  memmark multi-user
  mark_pmem
  mark_daemon
  mark_facts
  pass
}

# What the boot's restore did, by both its runs: the initramfs's (its report in
# /run/warmboot/reports, moved into the root with /run) and warmboot-restore.service's; the
# state target; the boot record and the history. $1: the exit code status is to have (1 when
# the configured namespace does not exist).
mark_restore() {
  _t0=$(now)
  run_json restore-report 0 cat /run/warmboot/reports/restore.json
  run_json boot-record 0 cat /run/warmboot/reports/boot.json
  run_json status "$1" warmboot status --json
  _unit=$(systemctl show -p ActiveState --value warmboot-restore.service)
  _result=$(systemctl show -p Result --value warmboot-restore.service)
  _status=$(systemctl show -p ExecMainStatus --value warmboot-restore.service)
  _target=$(systemctl is-active warmboot-state.target)
  # The unit's one line (journal: its stdout), without systemd's own Starting/Finished lines.
  echo "WB-E2E-UNIT-LINE-BEGIN"
  journalctl -b -o cat -u warmboot-restore.service | grep '^warmboot: '
  echo "WB-E2E-UNIT-LINE-END"
  _lines=$(wc -l </var/lib/warmboot/boots.jsonl 2>/dev/null || echo 0)
  mark restore-units 1 "start=$_t0 unit=$_unit result=$_result exit=$_status target=$_target" \
    "history_lines=$_lines restore_mount=$(findmnt -no FSTYPE /run/warmboot/restore || echo none)" \
    "run_fs=$(findmnt -no FSTYPE /run)"
  run_json history 0 tail -n 1 /var/lib/warmboot/boots.jsonl
}

# Boot 1: a cold boot of the root with the .deb installed; the initramfs restores (nothing to
# restore: the pmem becomes System RAM), the unit finds that and records the boot. Then the
# configuration names a namespace that does not exist, for boot 2 (its initramfs gets the same
# configuration from the harness).
scenario_debian_cold_1() {
  mark_systemd
  memmark multi-user
  mark_restore 0
  sed -i 's/^namespace = .*/namespace = namespace9.9/' /etc/warmboot/warmboot.conf
  pass
}

# Boot 2: the configured namespace does not exist and the command line names an image: both
# restores fail, the boot goes on (the unit failed, the system degraded for it), and the boot is
# recorded failed-warm with the reason.
scenario_debian_cold_2() {
  KNOWN_FAILED="ndctl-monitor.service warmboot-restore.service"
  mark_systemd
  memmark multi-user
  mark_restore 1
  pass
}
