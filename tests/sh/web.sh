#!/usr/bin/env bash
# The web page's pure functions (web/*.mjs) under node's own test runner, no
# browser: the Bluetooth Heart Rate Measurement parser (uint8 and uint16
# rates, energy field, RR intervals, short values), the probability smoothing
# and the "why it fits" text (tests/web/page.test.mjs). Skipped without node.
set -u
command -v node >/dev/null || { echo "web.sh: skipped, node is not installed (apt-get install nodejs)"; exit 0; }
out=$(node --test tests/web/page.test.mjs 2>&1) || { echo "$out"; echo "web.sh: FAIL"; exit 1; }
echo "web.sh: $(grep -E '^# (pass|fail)' <<<"$out" | tr '\n' ' ')"
