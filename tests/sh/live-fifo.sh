#!/usr/bin/env bash
# fer-live with a heart-rate FIFO (tests/live_fifo.py drives it): a rate that
# rises from 62 to 130-140 bpm makes the state's arousal rise, EOF on the FIFO
# makes the state fall back to the face alone after the --hr-timeout, SIGINT
# ends it with exit 0. Every step waits for fer-live's own status lines, and
# 60 s bound the whole run. The video: one happy face for 40 s, 5 frames a
# second (tests/make_live_video.py, Debian's ffmpeg), played at its own pace
# (--realtime) and stopped once the checks are done (about 15 s). Skips as
# tests/sh/live.sh does.
set -u
BUILD=${BUILD:-build}
bin="$BUILD/bin/fer-live"
py=/usr/bin/python3
command -v ffmpeg >/dev/null || { echo "live-fifo.sh: ffmpeg missing (apt-get install ffmpeg), skipped"; exit 0; }
[ -x "$bin" ] || { echo "live-fifo.sh: $bin not built (FFmpeg -dev packages missing), skipped"; exit 0; }
tmp=$(mktemp -d /tmp/live-fifo-sh.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

"$py" tests/make_live_video.py tests/data/fer2013-sample.csv "$tmp/frames" 5 4 40 4 0
case $? in
0) ;;
77) echo "live-fifo.sh: python3-opencv or the opencv-doc photos missing, skipped"; exit 0 ;;
*) echo "FAIL: make_live_video.py"; exit 1 ;;
esac
ffmpeg -hide_banner -loglevel error -framerate 5 -i "$tmp/frames/frame_%04d.png" \
    -c:v libx264 -pix_fmt yuv420p "$tmp/v.mp4" || { echo "FAIL: ffmpeg"; exit 1; }
rm -rf "$tmp/frames"

"$py" tests/live_fifo.py "$bin" "$tmp/v.mp4" "$tmp" 60 || exit 1
echo "live-fifo.sh: all passed"
