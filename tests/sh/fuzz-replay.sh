#!/usr/bin/env bash
# Replays every committed fuzz input (tests/fuzz/corpus/<target>/ seeds and
# tests/fuzz/regress/<target>/ crashes once found) through the harnesses built
# without libFuzzer; under SAN builds any sanitizer report fails the test.
set -u
BUILD=${BUILD:-build}
fails=0
for d in tests/fuzz/corpus/*/; do
    t=$(basename "$d")
    bin="$BUILD/tests/fuzz/replay_$t"
    [ -x "$bin" ] || { echo "fuzz-replay.sh: FAIL: $bin not built"; fails=$((fails + 1)); continue; }
    dirs=("$d")
    [ -d "tests/fuzz/regress/$t" ] && dirs+=("tests/fuzz/regress/$t")
    "$bin" "${dirs[@]}" || { echo "fuzz-replay.sh: FAIL: $t (status $?)"; fails=$((fails + 1)); }
done
[ "$fails" -eq 0 ]
