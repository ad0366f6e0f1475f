#!/usr/bin/env bash
# Command-line conventions shared by the four tools (docs/tools.md,
# "Conventions"): --help/-h/--version, one wording for option errors, no
# abbreviations, write errors on stdout are failures, outputs are checked
# before any work and never overwrite an input, "-" means stdin/stdout, and
# the JSON is valid UTF-8 with a schema number.
set -u
BUILD=${BUILD:-build}
BIN="$BUILD/bin"
py=/usr/bin/python3
tmp=$(mktemp -d /tmp/cli-sh.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "cli.sh: FAIL: $*"; fails=$((fails + 1)); }
unset SPOTIFY_CLIENT_ID SPOTIFY_CLIENT_SECRET
export FER_THREADS=2
TOOLS=(fer-train fer-eval fer-predict fer-recommend fer-serve)
[ -x "$BIN/fer-live" ] && TOOLS+=(fer-live) # built when FFmpeg is there

"$BUILD/tests/test_predict_model" --write "$tmp/w.safetensors" 7 >/dev/null || exit 1
{ printf 'P5\n48 48\n255\n'; head -c 2304 /dev/zero | tr '\0' '\200'; } >"$tmp/face.pgm"
CSV=tests/data/fer2013-sample.csv
version=$(sed -n 's/^#define FER_VERSION "\(.*\)"/\1/p' include/fer.h)

# run NAME CMD...: stdout, stderr and status in $tmp/NAME.out, $tmp/NAME.err, $rc
run() {
    local name=$1
    shift
    "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
    rc=$?
}
# one_error NAME STATUS TEXT: exit STATUS and exactly one stderr line containing TEXT
one_error() {
    [ "$rc" -eq "$2" ] && [ "$(wc -l <"$tmp/$1.err")" -eq 1 ] && grep -qF -- "$3" "$tmp/$1.err" ||
        fail "$1: expected exit $2 and one line with '$3'; got $rc: $(head -c 300 "$tmp/$1.err")"
}

# ------------------------------------------------------------ help and version
for t in "${TOOLS[@]}"; do
    run "$t-version" "$BIN/$t" --version
    [ $rc -eq 0 ] && [ "$(cat "$tmp/$t-version.out")" = "$t (libfer) $version" ] ||
        fail "$t --version: $rc '$(cat "$tmp/$t-version.out")'"
    for h in -h --help; do
        run "$t-help" "$BIN/$t" $h
        [ $rc -eq 0 ] && [ ! -s "$tmp/$t-help.err" ] || fail "$t $h: exit $rc"
        for word in "usage: $t" "Exit status:" "FER_DATA_DIR" "--version"; do
            grep -qF -- "$word" "$tmp/$t-help.out" || fail "$t $h does not mention '$word'"
        done
    done
    "$BIN/$t" --help >/dev/full 2>"$tmp/$t-full.err"
    rc=$?
    one_error "$t-full" 1 "$t: standard output: No space left on device"
done

# ------------------------------------------------------------ option errors: one wording
abbrev=(fer-train --epoch fer-eval --dat fer-predict --weight fer-recommend --emo)
for ((i = 0; i < ${#abbrev[@]}; i += 2)); do
    t=${abbrev[i]} a=${abbrev[i + 1]}
    run "$t-unknown" "$BIN/$t" --no-such-option
    one_error "$t-unknown" 2 "$t: unknown option '--no-such-option' (see --help)"
    run "$t-abbrev" "$BIN/$t" "$a" 1
    one_error "$t-abbrev" 2 "$t: unknown option '$a' (see --help)"
    run "$t-short" "$BIN/$t" -q
    one_error "$t-short" 2 "$t: unknown option '-q'"
done
run flagval "$BIN/fer-predict" --json=yes "$tmp/face.pgm"
one_error flagval 2 "fer-predict: --json takes no value (see --help)"
run noval "$BIN/fer-recommend" --emotion
one_error noval 2 "fer-recommend: --emotion needs a value (see --help)"
run empty "$BIN/fer-eval" --data=
one_error empty 2 "fer-eval: --data: empty value (see --help)"
run badval "$BIN/fer-train" --data "$CSV" --epochs many
one_error badval 2 "fer-train: --epochs 'many': expected an integer 1..100000"

# ------------------------------------------------------------ write errors on stdout
P=("$BIN/fer-predict" --weights "$tmp/w.safetensors" --no-detect "$tmp/face.pgm")
"${P[@]}" >/dev/full 2>"$tmp/p-full.err"; rc=$?
one_error p-full 1 "fer-predict: standard output: No space left on device"
"${P[@]}" --json >/dev/full 2>"$tmp/pj-full.err"; rc=$?
one_error pj-full 1 "standard output"
"${P[@]}" --json >&- 2>"$tmp/pj-closed.err"; rc=$?
one_error pj-closed 1 "fer-predict: standard output: Bad file descriptor"
"$BIN/fer-recommend" --emotion sad >/dev/full 2>"$tmp/r-full.err"; rc=$?
[ $rc -eq 1 ] && grep -q "standard output: No space left" "$tmp/r-full.err" || fail "fer-recommend >/dev/full: $rc"
"$BIN/fer-recommend" --emotion sad --json >&- 2>"$tmp/r-closed.err"; rc=$?
[ $rc -eq 1 ] && grep -q "standard output: Bad file descriptor" "$tmp/r-closed.err" || fail "fer-recommend >&-: $rc"
"$BIN/fer-eval" --weights "$tmp/w.safetensors" --data "$CSV" >/dev/full 2>"$tmp/e-full.err"; rc=$?
[ $rc -eq 1 ] && grep -q "fer-eval: standard output: No space left" "$tmp/e-full.err" || fail "fer-eval >/dev/full: $rc"

# ------------------------------------------------------------ outputs checked first, never an input
cp "$CSV" "$tmp/data.csv"
cp "$tmp/face.pgm" "$tmp/photo.pgm"
ln -s photo.pgm "$tmp/photo-link.pgm"
T=("$BIN/fer-train" --data "$tmp/data.csv" --epochs 1 --quiet)
run out-is-data "${T[@]}" --out "$tmp/data.csv"
one_error out-is-data 1 "refusing to overwrite an input"
run log-is-data "${T[@]}" --out "$tmp/m.safetensors" --log "$tmp/data.csv"
one_error log-is-data 1 "refusing to overwrite an input"
run log-is-out "${T[@]}" --out "$tmp/m.safetensors" --log "$tmp/m.safetensors"
one_error log-is-out 1 "refusing to overwrite an input"
cmp -s "$CSV" "$tmp/data.csv" || fail "fer-train changed its --data"
# A bad --plot or --log is found before the first epoch: nothing is trained or saved.
run plot-dir "${T[@]}" --out "$tmp/m.safetensors" --plot "$tmp/no/such/dir/p.svg"
one_error plot-dir 1 "cannot write there"
run log-dir "${T[@]}" --out "$tmp/m.safetensors" --log "$tmp"
one_error log-dir 1 "is a directory"
[ ! -e "$tmp/m.safetensors" ] && [ ! -e "$tmp/m.safetensors.ckpt" ] || fail "fer-train trained despite a bad output"
run ann-is-photo "${P[@]:0:4}" --annotate "$tmp/photo-link.pgm" "$tmp/photo.pgm"
one_error ann-is-photo 1 "refusing to overwrite an input"
cmp -s "$tmp/face.pgm" "$tmp/photo.pgm" || fail "fer-predict --annotate overwrote its photo"
head -n 30 datasets/catalog.csv >"$tmp/cat.csv"
cp "$tmp/cat.csv" "$tmp/cat-copy.csv"
run m3u-is-catalog "$BIN/fer-recommend" --emotion sad --catalog "$tmp/cat.csv" --m3u "$tmp/cat.csv"
one_error m3u-is-catalog 1 "refusing to overwrite an input"
cmp -s "$tmp/cat.csv" "$tmp/cat-copy.csv" || fail "fer-recommend --m3u overwrote its catalogue"
run conf-is-data "$BIN/fer-eval" --weights "$tmp/w.safetensors" --data "$tmp/data.csv" --confusion "$tmp/data.csv"
one_error conf-is-data 1 "refusing to overwrite an input"

# ------------------------------------------------------------ "-" is stdin / stdout
mkdir "$tmp/cwd"
(cd "$tmp/cwd" && "$OLDPWD/$BIN/fer-recommend" --emotion sad --catalog "$tmp/cat.csv" --limit 3 --m3u - \
    >"$tmp/m3u.out" 2>/dev/null) || fail "--m3u - exited $?"
[ "$(head -n 1 "$tmp/m3u.out")" = "#EXTM3U" ] && [ "$(grep -c '^https://open.spotify.com/track/' "$tmp/m3u.out")" -eq 3 ] ||
    fail "--m3u - did not print the playlist: $(head -c 200 "$tmp/m3u.out")"
[ ! -e "$tmp/cwd/-" ] || fail "--m3u - wrote a file named '-'"
"${P[@]:0:4}" --json "$tmp/photo.pgm" 2>/dev/null | sed 's/"image":"[^"]*"//' >"$tmp/file.json"
"${P[@]:0:4}" --json - <"$tmp/photo.pgm" 2>/dev/null | sed 's/"image":"[^"]*"//' >"$tmp/stdin.json"
[ -s "$tmp/file.json" ] && cmp -s "$tmp/file.json" "$tmp/stdin.json" || fail "fer-predict - differs from the file"
run two-stdin "${P[@]:0:4}" - -
one_error two-stdin 2 "standard input ('-') can be read only once"
printf 'not an image' | "${P[@]:0:4}" - >/dev/null 2>"$tmp/bad-stdin.err"; rc=$?
one_error bad-stdin 1 "fer-predict: standard input: "

# ------------------------------------------------------------ JSON
# A file name that is not UTF-8 still gives valid JSON (U+FFFD in its place).
cp "$tmp/face.pgm" "$tmp/$(printf 'caf\xe9.pgm')"
"${P[@]:0:4}" --json "$tmp/$(printf 'caf\xe9.pgm')" >"$tmp/latin1.json" 2>/dev/null || fail "latin-1 name: exit $?"
"$py" - "$tmp/latin1.json" <<'EOF' || fail "non-UTF-8 file name: invalid JSON"
import json, sys
o = json.loads(open(sys.argv[1], "rb").read().decode("utf-8"))  # strict UTF-8
assert o["image"].endswith("caf\ufffd.pgm"), o["image"]
assert o["schema"] == 1 and o["model"] == "w.safetensors", o
EOF
# fer-predict's JSON is what fer-recommend reads and writes back: one state and heart schema.
"${P[@]}" --json --bpm 70 2>/dev/null | "$BIN/fer-recommend" --json --limit 2 --catalog "$tmp/cat.csv" \
    >"$tmp/rec.json" 2>/dev/null || fail "fer-predict | fer-recommend: exit $?"
"${P[@]}" --json --bpm 70 2>/dev/null >"$tmp/pred.json"
"$py" - "$tmp/pred.json" "$tmp/rec.json" <<'EOF' || fail "state/heart schema differs between the tools"
import json, sys
p, r = (json.loads(open(f).read()) for f in sys.argv[1:])
assert r["schema"] == p["schema"] == 1
ps = dict(p["state"]); ps.pop("face")
assert ps == r["state"], (ps, r["state"])
assert p["heart"] == r["heart"] and list(r["heart"]) == ["bpm", "level", "arousal"], (p["heart"], r["heart"])
assert r["state"]["emotion"] in ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
assert r["state"]["intensity"] in ("mildly", "plain", "very")
EOF
# A newer schema is refused; the label is not taken from the input (it is worded again).
echo '{"schema":2,"state":{"emotion":"sad","arousal":0.5}}' >"$tmp/newer.json"
"$BIN/fer-recommend" --catalog "$tmp/cat.csv" <"$tmp/newer.json" >/dev/null 2>"$tmp/newer.err"; rc=$?
one_error newer 1 "fer-recommend: stdin line 1: \"schema\" is not a version this program reads"
printf '{"state":{"emotion":"Sad","intensity":"Mildly","arousal":0.2,"label":"\\u001b[2J\\nEVIL"}}\n' |
    "$BIN/fer-recommend" --catalog "$tmp/cat.csv" --limit 1 >"$tmp/label.out" 2>/dev/null || fail "old-style state: exit $?"
grep -q '^State: Mildly sad but calm' "$tmp/label.out" && ! grep -q EVIL "$tmp/label.out" ||
    fail "the state label came from the input: $(head -n 1 "$tmp/label.out")"

[ $fails -eq 0 ] && echo "cli.sh: all checks passed"
[ $fails -eq 0 ]
