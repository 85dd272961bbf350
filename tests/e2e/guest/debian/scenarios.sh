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
    "systemctl_kexec_dry_run_rc=$_rc" \
    "history=$(cat /var/lib/warmboot/boots.jsonl 2>/dev/null | wc -l)"
}

scenario_debian_boot_1() {
  mark_systemd
  memmark multi-user
  mark_pmem
  mark_daemon
  mark_facts
  pass
}

# The same root booted without persistent memory (no memmap=): every warmboot unit stays
# inactive by its conditions, nothing restored or recorded; the initramfs said so in one line.
scenario_debian_boot_2() {
  mark_systemd
  _units=
  for _u in warmbootd.socket warmbootd.service warmboot-restore.service \
    warmboot-preserve.service warmboot-prepare.service warmboot-give-back.service; do
    _units="$_units ${_u%.*}_${_u##*.}=$(systemctl is-active "$_u")"
  done
  mark nopmem 1 $_units \
    "condition=$(systemctl show -p ConditionResult --value warmbootd.socket)" \
    "boot_json=$([ -e /run/warmboot/reports/boot.json ] && echo 1 || echo 0)" \
    "history=$(cat /var/lib/warmboot/boots.jsonl 2>/dev/null | wc -l)" \
    "nd_devices=$(ls /sys/bus/nd/devices 2>/dev/null | wc -l)"
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

# --- debian-warm: warm reboots of the real root through systemd (warmboot reboot twice, then a
# plain systemctl kexec and a systemctl reboot), with warmboot-sample.service (warmboot-api-app
# serve) keeping its state with warmbootd. Stages 1 to 5 run in one QEMU process (kexec stays
# inside it); stage 6 in a second one, after the refused warm reboot became an ordinary reboot
# (which ends QEMU: -no-reboot). Documents are named with the stage: the host reads one console
# for the five kernels.
WARM_KEEP=/var/lib/warmboot-e2e  # what outlives a reboot: the reboot's own report

# What this boot's restore did and recorded, and status.
mark_boot_state() {
  run_json "restore-report-$STAGE" 0 cat /run/warmboot/reports/restore.json
  run_json "boot-record-$STAGE" 0 cat /run/warmboot/reports/boot.json
  run_json "status-$STAGE" 0 warmboot status --json
  [ -e /var/lib/warmboot/last-preserve.json ] &&
    run_json "last-preserve-$STAGE" 0 cat /var/lib/warmboot/last-preserve.json
  [ -e /var/lib/warmboot/reboot-cause.json ] &&
    run_json "reboot-cause-$STAGE" 0 cat /var/lib/warmboot/reboot-cause.json
  for _f in "$WARM_KEEP"/reboot-*.json; do
    [ -e "$_f" ] || continue
    emit_json "$(basename "$_f" .json)" "$_f" "$(cat "${_f%.json}.rc" 2>/dev/null)"
    rm -f "$_f" "${_f%.json}.rc"
  done
  # node_exporter's textfile (the root has its directory, as with prometheus-node-exporter).
  _prom=/var/lib/prometheus/node-exporter/warmboot.prom
  mark "metrics-$STAGE" 1 "file=$([ -e $_prom ] && echo 1 || echo 0)" \
    "warm=$(sed -n 's/^warmboot_boot_type{type="warm"} //p' $_prom 2>/dev/null)" \
    "blackout=$(sed -n 's/^warmboot_blackout_seconds //p' $_prom 2>/dev/null)"
  mark "units-$STAGE" 1 "restore=$(systemctl is-active warmboot-restore.service)" \
    "target=$(systemctl is-active warmboot-state.target)" \
    "preserve=$(systemctl is-active warmboot-preserve.service)" \
    "prepare=$(systemctl is-active warmboot-prepare.service)" \
    "cycles=$(journalctl -b -o cat | grep -ci 'ordering cycle')" \
    "app=$(systemctl is-active warmboot-sample.service)" \
    "give_back=$(systemctl show -p Result --value warmboot-give-back.service)" \
    "give_back_lines=$(journalctl -b -o cat -u warmboot-give-back.service | grep -c '^given-back: ')" \
    "give_back_ran=$(systemctl show -p ExecMainExitTimestampMonotonic --value warmboot-give-back.service)" \
    "warm_params=$(tr ' ' '\n' </proc/cmdline | grep -c '^wbe2e.warm=1$')" \
    "kexec_load_conf=$(sed -n 's/^LOAD_KEXEC=//p' /etc/default/kexec)"
}

# The application of this boot: it started, checked what came back (or said why it started
# cold) and handed fresh state over.
mark_app() {
  _i=0
  while [ ! -e /run/warmboot-sample/handed-over.json ] && [ $_i -lt 1800 ]; do
    sleep 0.1
    _i=$((_i + 1))
  done
  if [ ! -e /run/warmboot-sample/handed-over.json ]; then
    systemctl status --no-pager -l warmboot-sample.service 2>&1
    fail "warmboot-sample.service handed nothing over within 180 s"
  fi
  run_json "app-start-$STAGE" 0 cat /run/warmboot-sample/start.json
  run_json "app-handed-over-$STAGE" 0 cat /run/warmboot-sample/handed-over.json
  echo "WB-E2E-APP-JOURNAL-BEGIN stage=$STAGE"
  journalctl -b -o cat -u warmboot-sample.service | grep '^warmboot-sample: '
  echo "WB-E2E-APP-JOURNAL-END stage=$STAGE"
}

# A warm boot's timeline once the app is ready (its unit active: READY=1 after its check), as
# warmboot report gives it and draws it: the blackout, then the applications starting.
mark_report() {
  grep -q '"type": *"warm"' /run/warmboot/reports/boot.json 2>/dev/null || return 0
  run_json "report-$STAGE" 0 warmboot report --svg "$E2E_RUN/timeline.svg" --json
  mark "svg-$STAGE" 1 "bytes=$(stat -c %s "$E2E_RUN/timeline.svg" 2>/dev/null || echo 0)" \
    "bars=$(grep -c '<rect class=' "$E2E_RUN/timeline.svg" 2>/dev/null)" \
    "ready_line=$(grep -c 'class="applications-ready"' "$E2E_RUN/timeline.svg" 2>/dev/null)" \
    "end=$(grep -c '</svg>' "$E2E_RUN/timeline.svg" 2>/dev/null)"
}

# systemd's fd store under a real systemd: warmbootd killed with SIGKILL (no goodbye),
# Restart=always brings it back, and the new instance holds every segment the app handed over.
fd_store_proof() {
  # The lists (3001 segments) are compared here, not printed: counts, bytes, identical or not.
  warmboot api list --all --json >"$E2E_RUN/list-before.json" || fail "api list --all failed"
  _old=$(systemctl show -p MainPID --value warmbootd.service)
  _t0=$(now)
  systemctl kill -s KILL warmbootd.service
  _i=0 _new=$_old
  while [ $_i -lt 300 ]; do
    _new=$(systemctl show -p MainPID --value warmbootd.service)
    [ "$_new" != "$_old" ] && [ "$_new" != 0 ] &&
      [ "$(systemctl is-active warmbootd.service)" = active ] && break
    sleep 0.1
    _i=$((_i + 1))
  done
  _ok=0
  [ "$_new" != "$_old" ] && [ "$_new" != 0 ] && _ok=1
  mark warmbootd-killed $_ok "start=$_t0 old_pid=$_old new_pid=$_new" \
    "restarts=$(systemctl show -p NRestarts --value warmbootd.service)" \
    "fdstore=$(systemctl show -p NFileDescriptorStore --value warmbootd.service 2>/dev/null)"
  [ $_ok = 1 ] || fail "warmbootd did not come back after SIGKILL"
  # The app notices its connection gone and registers again (its marker, app-reconnected, on
  # the console): waited for before printing anything it could land inside.
  _i=0
  while [ $_i -lt 100 ] && ! journalctl -b -o cat -u warmboot-sample.service |
    grep -q 'step=app-reconnected'; do
    sleep 0.1
    _i=$((_i + 1))
  done
  run_json api-status-reload 0 warmboot api status --json
  warmboot api list --all --json >"$E2E_RUN/list-after.json" || fail "api list --all failed"
  _same=0
  cmp -s "$E2E_RUN/list-before.json" "$E2E_RUN/list-after.json" && _same=1
  mark fd-store "$_same" "identical=$_same" \
    "before=$(grep -c '"segment":' "$E2E_RUN/list-before.json")" \
    "after=$(grep -c '"segment":' "$E2E_RUN/list-after.json")" \
    "bytes_before=$(json_num "$E2E_RUN/list-before.json" bytes)" \
    "bytes_after=$(json_num "$E2E_RUN/list-after.json" bytes)" \
    "apps_after=$(grep -o '"app": "[^"]*"' "$E2E_RUN/list-after.json" | sort | uniq -c | tr -s ' ' | tr ' ' _ | tr '\n' ,)"
  echo "fd store: warmboot api list --all, before and after the SIGKILL:"
  warmboot api list --all | head -n 4
}

# warmboot reboot into stage $1: the next kernel's command line gets wbe2e.stage=$1 (warmboot's
# `append`). Its report goes to the disk (this unit is stopped with the rest as systemd takes the
# machine down; the next boot prints it) and SIGTERM is ignored until it is written. systemd's
# status lines are shown again: the blackout is timed from its first "Stopping".
warm_reboot() {
  _next=$1
  shift
  # wbe2e.warm=1 is the same every time: the running command line has it from the last warm
  # reboot, and it must not be added again (the next boot counts it).
  sed -i "s/^append =.*/append = wbe2e.warm=1 wbe2e.stage=$_next/" /etc/warmboot/warmboot.conf
  mkdir -p "$WARM_KEEP"
  dmesg_dump  # this kernel's log, before it goes
  trap '' TERM
  kill -$SHOW_STATUS_ON 1
  mark "reboot-begin-$STAGE" 1 "next=$_next args=$(echo "$@" | tr ' ' ,)"
  warmboot reboot --json "$@" >"$WARM_KEEP/reboot-$STAGE.json" 2>"$WARM_KEEP/reboot-$STAGE.err"
  _rc=$?
  echo "$_rc" >"$WARM_KEEP/reboot-$STAGE.rc"
  sync
  echo "WB-E2E step=reboot-asked-$STAGE ok=1 t=$(now) rc=$_rc"
  if [ "$_rc" != 0 ]; then
    kill -$SHOW_STATUS_OFF 1
    emit_json "reboot-$STAGE" "$WARM_KEEP/reboot-$STAGE.json" "$_rc"
    cat "$WARM_KEEP/reboot-$STAGE.err"
    fail "warmboot reboot exited $_rc"
  fi
  # systemd is taking the machine down: this unit ends here (the runner would call it a failure
  # if the stage returned).
  exit 0
}

# A plain `systemctl $2` (kexec, or reboot) into stage $1, with a kernel warmboot loaded (no
# warmboot reboot): warmboot-prepare.service's stop runs the round before the app stops,
# warmboot-preserve.service's seals the state once it has (loading the kernel again, its command
# line naming the image). A reboot stays an ordinary one for systemd 252: warmboot's
# system-shutdown hook jumps.
plain_kexec() {
  _next=$1 _verb=$2
  sed -i "s/^append =.*/append = wbe2e.warm=1 wbe2e.stage=$_next/" /etc/warmboot/warmboot.conf
  mkdir -p "$WARM_KEEP"
  dmesg_dump
  trap '' TERM
  kill -$SHOW_STATUS_ON 1
  mark "reboot-begin-$STAGE" 1 "next=$_next args=systemctl,$_verb"
  warmboot kexec --load-only --json >"$WARM_KEEP/reboot-$STAGE.json" 2>"$WARM_KEEP/reboot-$STAGE.err"
  _rc=$?
  echo "$_rc" >"$WARM_KEEP/reboot-$STAGE.rc"
  sync
  if [ "$_rc" != 0 ]; then
    kill -$SHOW_STATUS_OFF 1
    emit_json "reboot-$STAGE" "$WARM_KEEP/reboot-$STAGE.json" "$_rc"
    cat "$WARM_KEEP/reboot-$STAGE.err"
    fail "warmboot kexec --load-only exited $_rc"
  fi
  systemctl "$_verb"
  _rc=$?
  echo "WB-E2E step=reboot-asked-$STAGE ok=$([ $_rc = 0 ] && echo 1 || echo 0) t=$(now) rc=$_rc"
  [ "$_rc" = 0 ] || { kill -$SHOW_STATUS_OFF 1; fail "systemctl $_verb exited $_rc"; }
  exit 0
}

# Stage 1, the cold boot: the app hands its state over; the fd store is proven; warm reboot.
scenario_debian_warm_1() {
  mark_systemd
  memmark "multi-user-$STAGE"
  mark_boot_state
  mark_app
  fd_store_proof
  warm_reboot 2
}

# Stage 2, warm (generation 1): the app's state back byte-identical; a second warm reboot.
scenario_debian_warm_2() {
  mark_systemd
  memmark "multi-user-$STAGE"
  mark_boot_state
  mark_app
  mark_report
  warm_reboot 3
}

# Stage 3, warm (generation 2): a third warm reboot, by a plain `systemctl kexec`.
scenario_debian_warm_3() {
  mark_systemd
  memmark "multi-user-$STAGE"
  mark_boot_state
  mark_app
  mark_report
  plain_kexec 4 kexec
}

# Stage 4, warm (generation 3): a fourth, by `systemctl reboot` with warmboot's kernel loaded.
scenario_debian_warm_4() {
  mark_systemd
  memmark "multi-user-$STAGE"
  mark_boot_state
  mark_app
  mark_report
  plain_kexec 5 reboot
}

# Stage 5, warm (generation 4); then a state too large for the namespace: warmboot reboot
# --fallback cold refuses the warm reboot and reboots cold (QEMU ends: -no-reboot).
scenario_debian_warm_5() {
  mark_systemd
  memmark "multi-user-$STAGE"
  mark_boot_state
  mark_app
  mark_report
  _t0=$(now)
  _big=$(param big_mib 320)
  # A tmpfs of its own: /run (a fifth of the RAM) may not hold it. Random, so compression cannot
  # make it fit: with what the app handed over, more than the 528 MiB namespace.
  mkdir -p /run/warmboot/state
  mount -t tmpfs -o "size=$((_big + 16))M,mode=0755" warmboot-e2e-big /run/warmboot/state
  head -c "$((_big * 1048576))" /dev/urandom >/run/warmboot/state/too-big.bin
  mark "big-file-$STAGE" 1 "start=$_t0 bytes=$(stat -c %s /run/warmboot/state/too-big.bin)"
  warm_reboot 6 --fallback cold
}

# Stage 6, after the ordinary reboot: cold, the cause recorded; the app starts cold and says so.
scenario_debian_warm_6() {
  mark_systemd
  memmark "multi-user-$STAGE"
  mark_boot_state
  mark_app
  pass
}
