# The scenarios' stages, run by /init: scenario_NAME_STAGE. The host (scenario_NAME in
# tests/e2e/harness/scenarios.py) checks the JSON documents and markers these print; the guest
# stops early (fail) on an unexpected exit code so a broken stage does not run on into confusing
# later failures.

STATE=/run/warmboot/state
RESTORE=/run/warmboot/restore

# Cold-boot or next-boot restore with the memory accounting around it.
restore_step() {
  _name=$1 _want=$2
  memmark "before-$_name"
  run_json "$_name" "$_want" warmboot restore --json
  memmark "after-$_name"
  run_json "status-after-$_name" 0 warmboot status --json
}

app_write() {
  _name=$1
  shift
  rm -rf $STATE
  run_json "$_name" 0 warmboot-sample-app write $STATE "$@"
}

app_check() {
  _name=$1
  shift
  run_json "$_name" 0 warmboot-sample-app check "$@"
}

# reboot_kexec NEXT_STAGE: kexec after a 'preserve --no-kexec' (or with nothing preserved).
reboot_kexec() {
  make_initrd
  write_config "$1"
  if [ "$(kexec_mode)" = warmboot ]; then
    dmesg_dump
    mark kexec-exec 1 "next_stage=$1 loader=warmboot"
    run_json kexec 0 warmboot kexec --json
    fail "warmboot kexec returned"
  fi
  kexec_to "$1"
}

# --- happy: cold boot, then preserve -> kexec -> restore twice.
scenario_happy_1() {
  restore_step restore-cold 0
  app_write app-write-1 --random-mib "$(param mib 256)" --small-files "$(param files 3000)" --seed 1
  preserve_and_kexec preserve-1 2
}
scenario_happy_2() {
  restore_step restore-1 0
  app_check app-check-1 $RESTORE
  app_write app-write-2 --random-mib "$(param mib2 64)" --small-files "$(param files2 1000)" --seed 2
  preserve_and_kexec preserve-2 3
}
scenario_happy_3() {
  restore_step restore-2 0
  app_check app-check-2 $RESTORE
  # Restore again (a boot script run twice): nothing to do, the memory stays System RAM.
  run_json restore-again 0 warmboot restore --json
  memmark after-restore-again
  pass
}

# --- damage: bytes overwritten in a data chunk between seal and kexec.
# Segments are in pre-order by name, so blobs/blob-0000.bin's chunks come first in the data
# region (from 8192); random chunks are stored raw, so 8192 + 5 MiB + 1000 lies in its chunk 5.
scenario_damage_1() {
  restore_step restore-cold 0
  app_write app-write-1 --random-mib "$(param mib 32)" --small-files "$(param files 300)" --seed 3
  write_config 2
  run_json preserve-1 0 warmboot preserve --no-kexec --json
  memmark after-preserve-1
  run_json inspect-before-damage 0 warmboot inspect /dev/pmem0 --json
  _off=$((8192 + 5 * 1048576 + 1000))
  printf 'DAMAGED BY THE E2E TEST DAMAGED BY THE E2E TEST' |
    dd of=/dev/pmem0 bs=1 seek=$_off conv=notrunc,fsync 2>/dev/null || fail "dd into /dev/pmem0 failed"
  echo 3 >/proc/sys/vm/drop_caches
  mark damage 1 "offset=$_off bytes=47"
  run_json verify-after-damage 3 warmboot verify /dev/pmem0 --json
  reboot_kexec 2
}
scenario_damage_2() {
  restore_step restore-1 3
  app_check app-check-1 $RESTORE --allow-quarantined
  pass
}

# --- powercut (emulated NVDIMM): the host kills QEMU while preserve writes the image.
nvdimm_setup() {
  _t0=$(now)
  {
    ndctl disable-region all &&
      ndctl init-labels -f all &&
      ndctl enable-region all &&
      ndctl create-namespace -r region0 -m devdax -M mem
  } >$E2E_RUN/nvdimm-setup.out 2>&1
  _rc=$?
  cat $E2E_RUN/nvdimm-setup.out
  [ $_rc = 0 ] || { mark nvdimm-setup 0 "start=$_t0 rc=$_rc"; fail "NVDIMM label setup failed"; }
  mark nvdimm-setup 1 "start=$_t0"
}
scenario_powercut_1() {
  nvdimm_setup
  restore_step restore-cold 0
  app_write app-write-1 --random-mib "$(param mib 256)" --small-files "$(param files 1000)" --seed 4
  mark preserve-begin 1
  run_json preserve-1 0 warmboot preserve --no-kexec --json
  fail "preserve finished: the power cut came too late"
}
# Cold boot after the cut: no sealed image; then a sealed image must survive a power cycle.
scenario_powercut_2() {
  restore_step restore-after-cut 4
  app_write app-write-2 --random-mib "$(param mib2 32)" --small-files "$(param files2 300)" --seed 5
  run_json preserve-2 0 warmboot preserve --no-kexec --json
  memmark after-preserve-2
  mark power-off 1 "next_stage=3"
  pass "power-off=1"
}
scenario_powercut_3() {
  restore_step restore-after-power-cycle 0
  app_check app-check-2 $RESTORE
  pass
}

# --- nvdimm: a warm reboot on the emulated NVDIMM (NFIT, labels): preserve -> kexec -> restore.
scenario_nvdimm_1() {
  nvdimm_setup
  restore_step restore-cold 0
  app_write app-write-1 --random-mib "$(param mib 128)" --small-files "$(param files 500)" --seed 6
  preserve_and_kexec preserve-1 2
}
scenario_nvdimm_2() {
  restore_step restore-1 0
  app_check app-check-1 $RESTORE
  pass
}

# --- toobig: the state does not fit; preserve refuses before touching the memory.
scenario_toobig_1() {
  restore_step restore-cold 0
  app_write app-write-1 --random-mib "$(param mib 64)" --small-files "$(param files 300)" --seed 6
  _t0=$(now)
  dd if=/dev/zero of=$STATE/bulk.bin bs=1M count="$(param bulk 600)" 2>/dev/null || fail "dd failed"
  mark bulk-write 1 "start=$_t0 mib=$(param bulk 600)"
  write_config 2
  memmark before-preserve-1
  if [ "$(kexec_mode)" = warmboot ]; then
    run_json preserve-1 1 warmboot preserve --json
  else
    run_json preserve-1 1 warmboot preserve --no-kexec --json
  fi
  memmark after-preserve-1
  run_json status-after-preserve-1 0 warmboot status --json
  # The machine carries on and reboots normally (kexec, nothing preserved).
  rm -rf $STATE
  reboot_kexec 2
}
scenario_toobig_2() {
  restore_step restore-1 0
  pass
}

# --- badblocks: the kernel knows of bad sectors in the image when restore runs (as firmware
# would report poison). Injected through /sys/block/pmem0/badblocks in the restoring kernel:
# 8 sectors at 8192 + 9 MiB, inside chunk 9 of blobs/blob-0000.bin.
scenario_badblocks_1() {
  restore_step restore-cold 0
  app_write app-write-1 --random-mib "$(param mib 32)" --small-files "$(param files 300)" --seed 7
  preserve_and_kexec preserve-1 2
}
scenario_badblocks_2() {
  _sector=$(((8192 + 9 * 1048576) / 512))
  echo "$_sector 8" >/sys/block/pmem0/badblocks || fail "cannot add bad blocks to pmem0"
  mark inject-badblocks 1 "sector=$_sector count=8 listed=$(tr '\n' ' ' </sys/block/pmem0/badblocks)"
  restore_step restore-1 3
  app_check app-check-1 $RESTORE --allow-quarantined
  pass
}

# --- bench (bench/vm only; not one of tests/e2e/run's scenarios): per-phase times of preserve
# and restore for each size in wbe2e.sizes (MiB, comma-separated), and the guest's own dd of the
# same byte counts to and from the raw /dev/pmem0 as baselines. Stage 1 (cold boot, namespace
# raw): the dd baselines for every size, the cold restore, then state of the first size and
# preserve; stage k restores size k-1 and preserves size k; the last stage restores and passes.
bench_size() { echo "$(param sizes 256)" | tr ',' '\n' | sed -n "$1p"; }

# bench_dd NAME MIB ARGS...: a timed dd (best of wbe2e.ddruns, default 2) marked as a step.
bench_dd() {
  _n=$1 _mib=$2
  shift 2
  _best=
  _r=0
  while [ $_r -lt "$(param ddruns 2)" ]; do
    _t0=$(now)
    dd "$@" bs=1M count="$_mib" 2>$E2E_RUN/dd.err || { cat $E2E_RUN/dd.err; fail "dd $*"; }
    _t1=$(now)
    _s=$(awk "BEGIN {printf \"%.2f\", $_t1 - $_t0}")
    if [ -z "$_best" ] || awk "BEGIN {exit !($_s < $_best)}"; then _best=$_s; fi
    rm -f /run/bench-read.bin
    _r=$((_r + 1))
  done
  mark "$_n" 1 "seconds=$_best bytes=$((_mib * 1048576)) runs=$_r"
}

bench_state() {
  rm -rf $STATE $RESTORE
  mkdir -p $STATE
  _t0=$(now)
  if [ -e /run/bench-src.bin ]; then
    dd if=/run/bench-src.bin of=$STATE/bulk.bin bs=1M count="$1" 2>/dev/null || fail "state copy"
    rm -f /run/bench-src.bin
  else
    dd if=/dev/urandom of=$STATE/bulk.bin bs=1M count="$1" 2>/dev/null || fail "state write"
  fi
  mark "bench-state-$1" 1 "start=$_t0 bytes=$(stat -c %s $STATE/bulk.bin)"
}

bench_preserve() {
  _k=$1 _mib=$(bench_size "$1")
  if [ -z "$_mib" ]; then
    memmark bench-end
    pass
  fi
  bench_state "$_mib"
  make_initrd
  write_config $((_k + 1))
  run_json "plan-$_mib" 0 warmboot preserve --dry-run --json
  memmark "before-preserve-$_mib"
  preserve_and_kexec "preserve-$_mib" $((_k + 1))
}

scenario_bench_1() {
  # The source file and dd's read copy (a GiB each) do not fit tmpfs's default half of RAM.
  mount -o remount,size=90% /run || fail "cannot grow /run"
  _max=0
  for _m in $(echo "$(param sizes 256)" | tr ',' ' '); do [ "$_m" -gt $_max ] && _max=$_m; done
  _t0=$(now)
  dd if=/dev/urandom of=/run/bench-src.bin bs=1M count=$_max 2>/dev/null || fail "urandom"
  mark bench-src 1 "start=$_t0 mib=$_max"
  for _m in $(echo "$(param sizes 256)" | tr ',' ' '); do
    bench_dd "dd-write-$_m" "$_m" if=/run/bench-src.bin of=/dev/pmem0 oflag=direct
    bench_dd "dd-read-$_m" "$_m" if=/dev/pmem0 of=/run/bench-read.bin iflag=direct
  done
  # No stale image header for the cold restore to look at.
  dd if=/dev/zero of=/dev/pmem0 bs=4096 count=4 oflag=direct 2>/dev/null
  restore_step restore-cold "0 4"
  bench_preserve 1
}
bench_next() {
  mount -o remount,size=90% /run || fail "cannot grow /run"
  _prev=$(bench_size $((STAGE - 1)))
  restore_step "restore-$_prev" 0
  bench_preserve "$STAGE"
}
for _k in 2 3 4 5 6 7 8; do eval "scenario_bench_$_k() { bench_next; }"; done
