#!/usr/bin/env bash
# Proves the ABI gate can fail: builds toy versions of a library (an
# i2igalip.h with a config struct, an enum, an opaque i2ig_generator
# handle) and runs check.sh on each change against the first version.
# Additions and private-layout changes must pass; removals, changed
# signatures, struct layouts and enumerator values must fail -- unless
# I2IG_VERSION_MAJOR was bumped.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# build NAME MAJOR "HEADER BODY" "SOURCE BODY"
build() {
  local d="$tmp/$1"
  mkdir -p "$d/include"
  cat > "$d/include/i2igalip.h" <<H
#include <stddef.h>
#define I2IG_VERSION_MAJOR $2
#define I2IG_API __attribute__((visibility("default")))
typedef struct i2ig_generator i2ig_generator;
$3
H
  printf '#include "i2igalip.h"\n%s\n' "$4" > "$d/lib.c"
  gcc -g -O1 -shared -fPIC -fvisibility=hidden -I "$d/include" -Wl,-soname,libi2igalip.so.$2 \
    -o "$d/libi2igalip.so" "$d/lib.c"
}

H1='typedef struct i2ig_cfg { size_t struct_size; int a; } i2ig_cfg;
typedef enum i2ig_status { I2IG_OK = 0, I2IG_ERR_A = 1 } i2ig_status;
I2IG_API i2ig_status i2ig_run(i2ig_generator *g, const i2ig_cfg *c);
I2IG_API i2ig_status i2ig_free(i2ig_generator *g);'
S1='struct i2ig_generator { int x; };
i2ig_status i2ig_run(i2ig_generator *g, const i2ig_cfg *c) { return g && c->a ? I2IG_OK : I2IG_ERR_A; }
i2ig_status i2ig_free(i2ig_generator *g) { (void)g; return I2IG_OK; }'

build base 0 "$H1" "$S1"
abidw --headers-dir "$tmp/base/include" --no-corpus-path --drop-private-types \
  --suppressions "$here/suppressions.txt" "$tmp/base/libi2igalip.so" > "$tmp/base.abi"

fails=0
expect() { # expect pass|fail NAME MAJOR HEADER SOURCE
  build "$2" "$3" "$4" "$5"
  if bash "$here/check.sh" "$tmp/$2/libi2igalip.so" "$tmp/$2/include" "$tmp/base.abi" \
      > "$tmp/$2.log" 2>&1; then got=pass; else got=fail; fi
  if [ "$got" = "$1" ]; then echo "abi selftest: $2: $got (as expected)"
  else echo "abi selftest: $2: $got, expected $1"; cat "$tmp/$2.log"; fails=$((fails + 1)); fi
}

expect pass unchanged 0 "$H1" "$S1"
expect pass function-added 0 "$H1
I2IG_API int i2ig_new(void);" "$S1
int i2ig_new(void) { return 1; }"
expect pass enumerator-appended 0 "${H1/I2IG_ERR_A = 1 \}/I2IG_ERR_A = 1, I2IG_ERR_B = 2 \}}" "$S1"
expect pass private-layout-changed 0 "$H1" "${S1/int x; \}/int x; double y[4]; \}}"
expect fail function-removed 0 "${H1%%I2IG_API i2ig_status i2ig_free*}" \
  "${S1%%i2ig_status i2ig_free*}"
expect fail signature-changed 0 "${H1/const i2ig_cfg \*c);/const i2ig_cfg *c, int flags);}" \
  "${S1/const i2ig_cfg \*c) \{/const i2ig_cfg *c, int flags) { (void)flags;}"
expect fail struct-layout-changed 0 "${H1/int a; \}/long a; \}}" "$S1"
expect fail enumerator-renumbered 0 "${H1/I2IG_ERR_A = 1/I2IG_ERR_A = 5}" "$S1"
expect pass removal-with-major-bump 1 "${H1%%I2IG_API i2ig_status i2ig_free*}" \
  "${S1%%i2ig_status i2ig_free*}"
if [ $fails -ne 0 ]; then echo "abi selftest: $fails case(s) wrong"; exit 1; fi
echo "abi selftest: 9 cases as expected"
