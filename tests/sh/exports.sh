#!/usr/bin/env bash
# libfer.so exports exactly the API of include/fer.h (scripts/api-symbols):
# every function and the array it declares, and none of the internal fer_*
# helpers the modules share (fer_fail, fer_gemm, fer_csv_next, ...).
set -u
BUILD=${BUILD:-build}
so="$BUILD/libfer.so"
[ -r "$so" ] || { echo "exports.sh: $so not built"; exit 1; }
fails=0
fail() { echo "exports.sh: FAIL: $*"; fails=$((fails + 1)); }
api=$(scripts/api-symbols include/fer.h)
exported=$(nm -D --defined-only "$so" | awk '{print $3}' | sort -u)
[ "$(printf '%s\n' "$api" | wc -l)" -ge 90 ] || fail "only $(printf '%s\n' "$api" | wc -l) names found in fer.h"
extra=$(comm -23 <(printf '%s\n' "$exported") <(printf '%s\n' "$api"))
missing=$(comm -13 <(printf '%s\n' "$exported") <(printf '%s\n' "$api"))
[ -z "$extra" ] || fail "exported but not in fer.h: $(echo $extra)"
[ -z "$missing" ] || fail "declared in fer.h but not exported: $(echo $missing)"
for internal in fer_fail fer_gemm fer_csv_next fer_image_decode; do
    nm -D --defined-only "$so" | grep -qw "$internal" && fail "internal $internal is exported"
done
for public in fer_model_load fer_analyze fer_emotion_names; do
    printf '%s\n' "$api" | grep -qx "$public" || fail "fer.h's $public not found by scripts/api-symbols"
done
[ $fails -eq 0 ] && echo "exports.sh: libfer.so exports the $(printf '%s\n' "$api" | wc -l) names of fer.h and nothing else"
[ $fails -eq 0 ]
