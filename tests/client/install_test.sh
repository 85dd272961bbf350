#!/usr/bin/env bash
# The client library as it is installed (a staged 'cmake --install'): the examples build with
# nothing but pkg-config's flags, as examples/README.md says (the C one as C99 by the C compiler
# driver), load the installed library and run; the library has soname 0 and exports only the C
# ABI (wb_*), the C++ client and its error type (client/exports.map).
# usage: install_test.sh BUILD_DIR SOURCE_DIR [EXTRA_FLAGS]   (EXTRA_FLAGS: the sanitizers)
set -uo pipefail
build=$1
src=$2
read -r -a extra <<<"${3:-}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
passes=0
check() {  # check NAME EXPECTED_EXIT ACTUAL_EXIT
  if [[ "$2" == "$3" ]]; then passes=$((passes + 1)); else echo "FAIL: $1 (exit $3, expected $2)"; fails=$((fails + 1)); fi
}
has() {  # has NAME TEXT NEEDLE
  if grep -qF -- "$3" <<<"$2"; then passes=$((passes + 1)); else echo "FAIL: $1: '$3' not in: $2"; fails=$((fails + 1)); fi
}

stage=$work/stage
DESTDIR=$stage cmake --install "$build" >"$work/install.log" 2>&1 || { cat "$work/install.log"; exit 1; }
pc=$(find "$stage" -name warmboot-client.pc)
[[ -n $pc ]] || { echo "FAIL: no warmboot-client.pc installed"; exit 1; }
lib=$(find "$stage" -name 'libwarmboot-client.so.0' | head -n 1)
[[ -n $lib ]] || { echo "FAIL: no libwarmboot-client.so.0 installed"; exit 1; }
for h in client.h client_c.h util/status.h; do
  [[ -n $(find "$stage" -path "*/include/warmboot/$h") ]]; check "installed <warmboot/$h>" 0 $?
done

# pkg-config's paths, moved under the stage (the sysroot).
flags=$(PKG_CONFIG_PATH=$(dirname "$pc") PKG_CONFIG_SYSROOT_DIR=$stage \
        pkg-config --cflags --libs warmboot-client); check "pkg-config" 0 $?
read -r -a flags <<<"$flags"
rpath=-Wl,-rpath,$(dirname "$lib")
cc -std=c99 -Wall -Wextra -Wpedantic -Werror "${extra[@]}" -o "$work/checkpoint-c" \
  "$src/examples/checkpoint.c" "${flags[@]}" "$rpath"; check "C example builds as C99" 0 $?
c++ -std=c++17 -Wall -Wextra -Werror "${extra[@]}" -o "$work/checkpoint-cc" \
  "$src/examples/checkpoint.cc" "${flags[@]}" "$rpath"; check "C++ example builds as C++17" 0 $?

# They load the installed library (no daemon listens: each says so, exit 1).
has "C example loads the installed library" "$(ldd "$work/checkpoint-c")" "$lib"
out=$("$work/checkpoint-c" "$work/none.sock" 2>&1); check "C example runs" 1 $?
has "C example says no daemon" "$out" "(no-daemon)"
out=$("$work/checkpoint-cc" "$work/none.sock" 2>&1); check "C++ example runs" 1 $?
has "C++ example says no daemon" "$out" "is warmbootd running?"

has "soname" "$(readelf -d "$lib")" "Library soname: [libwarmboot-client.so.0]"
# Exported: wb_*, warmboot::client::*, the Status functions; nothing else (no wire format,
# no util, no nlohmann::json, which a program may well have its own copy of).
syms=$(nm -D --defined-only -C "$lib" | awk '$2 != "A" { $1 = ""; $2 = ""; sub(/^  /, ""); print }')
for s in wb_client_connect wb_client_connect_ex wb_client_close wb_client_fd wb_put_bytes \
         wb_put_fd wb_get wb_drop wb_list wb_list_free wb_wait_prepare wb_ready wb_decline \
         wb_restored wb_restored_free wb_get_restored wb_release_restored wb_last_error \
         wb_error_name "warmboot::client::Client::Connect" "warmboot::Status::ToString"; do
  has "exports $s" "$syms" "$s"
done
stray=$(grep -vE '^(wb_[a-z_]+|warmboot::(client::|Status::|CodeName|InvalidArgument|NotFound|IoError|NoSpace|Corruption|NoImage|Unsupported|UsageError|ErrnoError))' <<<"$syms")
[[ -z $stray ]] && passes=$((passes + 1)) || { echo "FAIL: exports more than the API:"; head -n 20 <<<"$stray"; fails=$((fails + 1)); }

echo "client_install: $passes passed, $fails failed"
[[ $fails -eq 0 ]]
