#!/usr/bin/env bash
# The web page end to end: fer-serve on a free port, Debian's chromium
# headless with a fake camera that shows the shipped demo photo (a y4m video
# made here), driven by playwright-core (tests/browser/page.test.mjs).
# Screenshots are kept in $BUILD/browser/. Skipped, with a message, when
# chromium, node, playwright-core (npm ci --ignore-scripts --prefix
# tests/browser) or python3-opencv are missing.
set -u
BUILD=${BUILD:-build}
out=$BUILD/browser
skip() { echo "browser.sh: skipped, $*"; exit 0; }
[ -x /usr/bin/chromium ] || skip "no /usr/bin/chromium (apt-get install chromium)"
command -v node >/dev/null || skip "node is not installed (apt-get install nodejs)"
[ -d tests/browser/node_modules/playwright-core ] ||
    skip "no playwright-core (npm ci --ignore-scripts --prefix tests/browser)"
mkdir -p "$out"
face=datasets/demo/face.png

# The fake camera's video: the photo as 640x480 I420 frames (chromium needs C420 in the header).
/usr/bin/python3 - "$face" "$out/face.y4m" <<'EOF' || skip "python3-opencv is missing"
import sys
import cv2
img = cv2.resize(cv2.imread(sys.argv[1]), (640, 480), interpolation=cv2.INTER_AREA)
frame = cv2.cvtColor(img, cv2.COLOR_BGR2YUV_I420).tobytes()
with open(sys.argv[2], "wb") as f:
    f.write(b"YUV4MPEG2 W640 H480 F10:1 Ip A1:1 C420\n")
    for _ in range(10):
        f.write(b"FRAME\n" + frame)
EOF
head -c 40 "$out/face.y4m" | grep -q '^YUV4MPEG2 W640 H480 .*C420' || { echo "browser.sh: FAIL: bad y4m header"; exit 1; }

unset FER_DATA_DIR
FER_THREADS=2 "$BUILD/bin/fer-serve" --port 0 --threads 2 2>"$out/serve.log" &
pid=$!
trap 'kill "$pid" 2>/dev/null' EXIT
for _ in $(seq 300); do
    grep -q 'listening on' "$out/serve.log" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
url=$(sed -n 's|^fer-serve: listening on \(http://[^ ]*/\) .*|\1|p' "$out/serve.log")
[ -n "$url" ] || { echo "browser.sh: FAIL: fer-serve did not start: $(cat "$out/serve.log")"; exit 1; }

node tests/browser/page.test.mjs "$url" "$face" "$out/face.y4m" "$out"
rc=$?
kill -TERM "$pid"
wait "$pid" || { echo "browser.sh: FAIL: fer-serve exit status $?"; rc=1; }
trap - EXIT
[ "$rc" -eq 0 ] && echo "browser.sh: all checks passed; screenshots: $out/page-*.png"
exit "$rc"
