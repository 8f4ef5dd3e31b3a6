#!/usr/bin/env bash
# The concurrency Check test (tests/unit/test_concurrency.c) under valgrind's
# helgrind, light mode (2 threads, 1 round): any data race or lock-order
# problem valgrind reports fails the test.
#   helgrind_concurrency.sh TEST_CONCURRENCY_BINARY
# OpenMP: libgomp synchronises its team threads with raw futexes that
# helgrind cannot see, so every parallel region is a false "race"; the
# kernels run one thread each (OMP_NUM_THREADS=1, the handles' default), so
# no team is ever started and the report covers our own threads only.
set -euo pipefail
exe="$1"
export CK_FORK=no OMP_NUM_THREADS=1 I2IG_CONCURRENCY_LIGHT=1
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if valgrind --tool=helgrind --error-exitcode=99 -q "$exe" >"$log" 2>&1; then
  tail -n 3 "$log"
  echo "helgrind: no data race reported"
  exit 0
fi
cat "$log"
echo "helgrind: FAILED (see the report above)"
exit 1
