#!/usr/bin/env bash
# 'warmboot kexec' and 'warmboot preserve' kexec options through the CLI. Every kexec run here
# fails on its command line or its kernel file before anything is loaded: nothing is ever
# loaded and nothing reboots, even as root on a machine that can kexec.
# usage: kexec_cli_test.sh WARMBOOT
set -uo pipefail
wb=$1
fails=0
passes=0
check() {  # check NAME EXPECTED_EXIT ACTUAL_EXIT
  if [[ "$2" == "$3" ]]; then passes=$((passes + 1)); else echo "FAIL: $1 (exit $3, expected $2)"; fails=$((fails + 1)); fi
}
has() {  # has NAME TEXT NEEDLE
  if grep -qF -- "$3" <<<"$2"; then passes=$((passes + 1)); else echo "FAIL: $1: '$3' not in: $2"; fails=$((fails + 1)); fi
}
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }

out=$("$wb" kexec --kernel /nonexistent/vmlinuz --load-only 2>&1); check "missing kernel" 1 $?
has "missing kernel named" "$out" "kernel /nonexistent/vmlinuz does not exist"
out=$("$wb" kexec --kernel /nonexistent/vmlinuz --load-only --json); check "missing kernel --json" 1 $?
[[ $(json 'd["error"]["code"]' <<<"$out") == not-found ]] && passes=$((passes + 1)) || { echo "FAIL: json code: $out"; fails=$((fails + 1)); }
has "json names the kernel" "$out" "/nonexistent/vmlinuz"
out=$("$wb" kexec --kernel /nonexistent/vmlinuz --initrd /nonexistent/initrd --load-only 2>&1); check "missing kernel and initrd" 1 $?
has "kernel first" "$out" "kernel /nonexistent/vmlinuz"

out=$("$wb" kexec --kernel /nonexistent/vmlinuz --cmdline "root=/dev/vda" --append quiet --load-only 2>&1); check "--cmdline with --append" 2 $?
has "usage names both" "$out" "--cmdline"
"$wb" kexec --unload --kernel /nonexistent/vmlinuz >/dev/null 2>&1; check "--unload with --kernel" 2 $?
"$wb" kexec --unload --load-only >/dev/null 2>&1; check "--unload with --load-only" 2 $?
"$wb" kexec extra --kernel /nonexistent/vmlinuz --load-only >/dev/null 2>&1; check "positional" 2 $?
"$wb" kexec --bogus >/dev/null 2>&1; check "unknown option" 2 $?
out=$("$wb" kexec --cmdline a --append b --json); check "usage --json" 2 $?
[[ $(json 'd["error"]["code"]' <<<"$out") == usage ]] && passes=$((passes + 1)) || { echo "FAIL: usage json: $out"; fails=$((fails + 1)); }
"$wb" kexec --config /nonexistent.conf --load-only >/dev/null 2>&1; check "missing --config" 1 $?

out=$("$wb" kexec --help); check "kexec --help" 0 $?
has "help names --load-only" "$out" "--load-only"
out=$("$wb" help); has "usage lists kexec" "$out" "kexec"
out=$("$wb" preserve --help); has "preserve help names --no-kexec" "$out" "--no-kexec"

echo "kexec CLI: $passes passed, $fails failed"
[[ $fails -eq 0 ]]
