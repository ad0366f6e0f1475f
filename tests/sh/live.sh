#!/usr/bin/env bash
# fer-live end to end on test videos made with Debian's ffmpeg from composites
# (tests/make_live_video.py: a FER2013 face on a real background, drifting, with
# sensor noise): happy for 3 s, then sad. JSON Lines, the state change within a
# bounded delay and without flicker, the playlist event and the M3U that follow
# it, a heart-rate stream, and bad input. Skips when ffmpeg, fer-live (FFmpeg's
# -dev packages) or python3-opencv is missing; scripts/install-deps installs them.
set -u
BUILD=${BUILD:-build}
bin="$BUILD/bin/fer-live"
py=/usr/bin/python3
command -v ffmpeg >/dev/null || { echo "live.sh: ffmpeg missing (apt-get install ffmpeg), skipped"; exit 0; }
[ -x "$bin" ] || { echo "live.sh: $bin not built (FFmpeg -dev packages missing), skipped"; exit 0; }
tmp=$(mktemp -d /tmp/live-sh.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# Sample rows 4 (happy) and 7 (sad), 10 frames a second.
"$py" tests/make_live_video.py tests/data/fer2013-sample.csv "$tmp/frames" 10 4 3 7 4
case $? in
0) ;;
77) echo "live.sh: python3-opencv or the opencv-doc photos missing, skipped"; exit 0 ;;
*) echo "FAIL: make_live_video.py"; exit 1 ;;
esac
ffmpeg -hide_banner -loglevel error -framerate 10 -i "$tmp/frames/frame_%04d.png" \
    -c:v libx264 -pix_fmt yuv420p "$tmp/v.mp4" || { echo "FAIL: ffmpeg"; exit 1; }

run() { # run NAME ARGS...: stdout, stderr and status in $tmp/NAME.{out,err}, $rc
    local name=$1
    shift
    "$bin" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
    rc=$?
}

# --json and --m3u: one status object a second, a playlist at the start and at the change.
run json --json --m3u "$tmp/p.m3u" "$tmp/v.mp4"
[ $rc -eq 0 ] || fail "--json exit $rc: $(cat "$tmp/json.err")"
[ -s "$tmp/json.err" ] && fail "--json wrote to stderr: $(cat "$tmp/json.err")"
"$py" - "$tmp/json.out" "$tmp/p.m3u" <<'PY' || fail "JSON Lines / M3U"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
status = [o for o in lines if o["event"] == "status"]
lists = [o for o in lines if o["event"] == "playlist"]
assert [o["t"] for o in status] == [0, 1, 2, 3, 4, 5, 6], [o["t"] for o in status]
for o in status:
    assert list(o) == ["schema", "model", "t", "event", "fps", "faces", "heart", "state"], list(o)
    assert o["schema"] == 1 and o["heart"] is None
    assert o["fps"] is None or o["fps"] > 0
    assert len(o["faces"]) == 1, o["faces"]
    f = o["faces"][0]
    assert list(f) == ["box", "angle", "score", "probabilities", "emotion", "confidence"]
    assert abs(sum(f["probabilities"].values()) - 1) < 2e-3
    s = o["state"]
    assert list(s) == ["face", "emotion", "intensity", "label", "valence", "arousal"], s
for o in lists:
    assert list(o)[:4] == ["schema", "t", "event", "state"], list(o)
    assert o["source"] == "offline" and len(o["tracks"]) == 10
    assert [t["rank"] for t in o["tracks"]] == list(range(1, 11))
# happy, then sad within 1.5 s of the change at 3 s, no flicker: two playlists
emotions = [o["state"]["emotion"] for o in lists]
assert emotions == ["happy", "sad"], emotions
assert lists[0]["t"] == 0 and 3 < lists[1]["t"] <= 4.5, lists[1]["t"]
seen = [o["state"]["emotion"] for o in status]
assert seen[:3] == ["happy"] * 3 and seen[-2:] == ["sad"] * 2, seen
assert seen == sorted(seen, key=lambda e: e == "sad"), seen  # once sad, sad: no flicker
assert lists[0]["tracks"] != lists[1]["tracks"]
# the M3U is the last playlist
m3u = open(sys.argv[2]).read().splitlines()
assert m3u[0] == "#EXTM3U" and len(m3u) == 21, m3u[:3]
ids = [l.rsplit("/", 1)[1] for l in m3u[2::2]]
assert ids == [t["id"] for t in lists[1]["tracks"]], (ids, lists[1]["tracks"][:2])
PY
ls -a "$tmp" | grep -q '\.tmp-' && fail "a temporary was left beside the M3U"

# Text, not a terminal: one line a second and one a playlist.
run text --max-frames 25 "$tmp/v.mp4"
[ $rc -eq 0 ] || fail "text exit $rc: $(cat "$tmp/text.err")"
[ "$(wc -l <"$tmp/text.out")" -eq 4 ] || fail "text lines: $(cat "$tmp/text.out")"
grep -q 'Happy' "$tmp/text.out" || fail "text state: $(cat "$tmp/text.out")"

# A heart-rate stream: a racing heart makes the arousal higher than a calm one.
for i in $(seq 1 20); do echo 62; done >"$tmp/calm.hr"
{ echo "seconds,bpm"; for i in $(seq 1 20); do echo "$i,$((120 + i))"; done; echo garbage; } >"$tmp/racing.hr"
run calm --json --max-frames 5 --hr-stream "$tmp/calm.hr" "$tmp/v.mp4"
run racing --json --max-frames 5 --hr-stream "$tmp/racing.hr" "$tmp/v.mp4"
[ $rc -eq 0 ] || fail "--hr-stream exit $rc: $(cat "$tmp/racing.err")"
grep -q 'skipping garbage' "$tmp/racing.err" || fail "garbage not reported: $(cat "$tmp/racing.err")"
"$py" - "$tmp/calm.out" "$tmp/racing.out" <<'PY' || fail "heart stream arousal"
import json, sys
a, b = ([json.loads(l) for l in open(p)][1] for p in sys.argv[1:])
assert a["event"] == b["event"] == "status"
assert a["heart"]["bpm"] == 62 and b["heart"]["bpm"] > 120, (a["heart"], b["heart"])
assert b["state"]["arousal"] > a["state"]["arousal"] + 0.2, (a["state"], b["state"])
PY
run bpm --json --max-frames 1 --bpm 70 "$tmp/v.mp4"
grep -q '"heart":{"bpm":70' "$tmp/bpm.out" || fail "--bpm: $(cat "$tmp/bpm.out")"

# stdin: a y4m stream from ffmpeg.
ffmpeg -hide_banner -loglevel error -i "$tmp/v.mp4" -frames:v 12 -f yuv4mpegpipe - |
    "$bin" --json - >"$tmp/stdin.out" 2>"$tmp/stdin.err"
[ $? -eq 0 ] && [ "$(grep -c '"event":"status"' "$tmp/stdin.out")" -eq 2 ] ||
    fail "stdin y4m: $(cat "$tmp/stdin.err") $(head -c 300 "$tmp/stdin.out")"

# --annotate-video: a video of as many frames, written whole.
run ann --max-frames 12 --annotate-video "$tmp/ann.mp4" "$tmp/v.mp4"
[ $rc -eq 0 ] || fail "--annotate-video exit $rc: $(cat "$tmp/ann.err")"
n=$(ffmpeg -hide_banner -i "$tmp/ann.mp4" -map 0:v -f null - 2>&1 | grep -oE 'frame= *[0-9]+' | tail -1 | grep -oE '[0-9]+')
[ "${n:-0}" -eq 12 ] || fail "annotated video has ${n:-no} frames"

# Bad input: one line, exit 1, nothing written.
one_line() { # one_line NAME PATTERN
    [ "$rc" -eq 1 ] || fail "$1: exit $rc"
    [ "$(wc -l <"$tmp/$1.err")" -eq 1 ] || fail "$1: stderr not one line: $(cat "$tmp/$1.err")"
    grep -q "$2" "$tmp/$1.err" || fail "$1: message '$(cat "$tmp/$1.err")' lacks '$2'"
    [ -s "$tmp/$1.out" ] && fail "$1: wrote to stdout"
    [ -e "$tmp/bad.m3u" ] && fail "$1: the M3U was written"
    true
}
run missing --json --m3u "$tmp/bad.m3u" "$tmp/nope.mp4"
one_line missing 'nope.mp4: No such file'
: >"$tmp/empty.mp4"
run empty --json --m3u "$tmp/bad.m3u" "$tmp/empty.mp4"
one_line empty 'empty'
head -c 60000 "$tmp/v.mp4" >"$tmp/trunc.mp4"
run trunc --json --m3u "$tmp/bad.m3u" "$tmp/trunc.mp4"
one_line trunc 'trunc.mp4'
head -c 2000 /dev/urandom >"$tmp/noise.mkv"
run noise --json --m3u "$tmp/bad.m3u" "$tmp/noise.mkv"
one_line noise 'noise.mkv'
run camera --json --m3u "$tmp/bad.m3u" /dev/video9
one_line camera 'camera /dev/video9'
# a corrupt stream: the middle of an MJPEG AVI overwritten with noise
ffmpeg -hide_banner -loglevel error -i "$tmp/v.mp4" -c:v mjpeg -q:v 5 "$tmp/c.avi"
size=$(stat -c %s "$tmp/c.avi")
dd if=/dev/urandom of="$tmp/c.avi" bs=1 seek=$((size / 2)) count=20000 conv=notrunc status=none
run corrupt --json "$tmp/c.avi"
[ "$rc" -eq 1 ] || fail "corrupt: exit $rc"
[ "$(wc -l <"$tmp/corrupt.err")" -eq 1 ] && grep -q 'c.avi' "$tmp/corrupt.err" ||
    fail "corrupt: $(cat "$tmp/corrupt.err")"

run usage --json
[ $rc -eq 2 ] && grep -q 'no video source' "$tmp/usage.err" || fail "no source: $rc $(cat "$tmp/usage.err")"
run both --bpm 70 --hr-stream "$tmp/calm.hr" "$tmp/v.mp4"
[ $rc -eq 2 ] || fail "--bpm with --hr-stream: exit $rc"
"$bin" --json "$tmp/v.mp4" >/dev/full 2>"$tmp/full.err"
[ $? -eq 1 ] && grep -q 'standard output' "$tmp/full.err" || fail "/dev/full: $(cat "$tmp/full.err")"

[ "$fails" -eq 0 ] && echo "live.sh: all passed"
[ "$fails" -eq 0 ]
