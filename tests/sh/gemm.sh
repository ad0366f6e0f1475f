#!/usr/bin/env bash
# FER_GEMM forces fer_gemm's path: the forced path must be the active one
# (and pass the whole GEMM suite, multi-threaded tests included); an unknown
# name falls back to the fastest supported path. The layer and model suites
# (gradient checks, reference loops, overfitting) run again on the portable C
# path, so the fallback is proven end to end, not only as a GEMM.
set -u
BUILD=${BUILD:-build}
bin="$BUILD/tests/test_gemm"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

for path in ref c; do
    out=$(FER_GEMM=$path "$bin" 2>&1) || fail "FER_GEMM=$path: suite failed: $out"
    grep -q "^gemm path $path .*(active)" <<<"$out" || fail "FER_GEMM=$path: not active"
done
for suite in test_layers test_model; do
    out=$(FER_GEMM=c "$BUILD/tests/$suite" 2>&1) || fail "FER_GEMM=c $suite failed: $out"
done
out=$(FER_GEMM=no-such-path "$bin" 2>&1) || fail "FER_GEMM=no-such-path: suite failed"
fastest=$(grep "^gemm path .* supported" <<<"$out" | grep -v "not supported" | tail -1 | awk '{print $3}')
grep -q "^gemm path $fastest .*(active)" <<<"$out" ||
    fail "FER_GEMM=no-such-path: fastest path '$fastest' not active"
[ "$fails" -eq 0 ] && echo "gemm.sh: all checks passed"
[ "$fails" -eq 0 ]
