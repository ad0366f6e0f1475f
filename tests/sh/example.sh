#!/usr/bin/env bash
# examples/predict.c builds against an installed libfer with pkg-config and
# prints a state for a generated image.
set -u
out=$(BUILD=${BUILD:-build} examples/build-and-run 2>&1) || { echo "FAIL: $out"; exit 1; }
echo "$out"
echo "$out" | grep -q 'whole-image face at 0,0 48x48 (score 1.00) -> .* (valence [-+][0-9.]*, arousal [0-9.]*)$' ||
    { echo "FAIL: unexpected output"; exit 1; }
