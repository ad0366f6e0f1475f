#!/usr/bin/env bash
# fer-predict end to end with random-weight models and generated images:
# JSON schema, --no-detect, heart options, exit statuses and one-line errors.
set -u
BUILD=${BUILD:-build}
bin="$BUILD/bin/fer-predict"
py=/usr/bin/python3
tmp=$(mktemp -d /tmp/predict-sh.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

"$BUILD/tests/test_predict_model" --write "$tmp/m7.safetensors" 7 || exit 1
"$BUILD/tests/test_predict_model" --write "$tmp/m5.safetensors" 5 || exit 1
pgm() { # pgm FILE W H OCTAL: a flat grey image
    { printf 'P5\n%d %d\n255\n' "$2" "$3"; head -c $(($2 * $3)) /dev/zero | tr '\0' "\\$4"; } >"$1"
}
pgm "$tmp/face48.pgm" 48 48 310 # octal: 200
pgm "$tmp/flat.pgm" 160 120 144 # octal: 100
{ printf 'P5\n64 64\n255\n'; head -c 4096 /dev/urandom; } >"$tmp/noise.pgm"
printf 'not an image\n' >"$tmp/bad.jpg"
W=(--weights "$tmp/m7.safetensors")

# run NAME ARGS...: captures stdout, stderr and status in $tmp/NAME.{out,err}, $rc
run() {
    local name=$1
    shift
    "$bin" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
    rc=$?
}
lines() { wc -l <"$1" | tr -d ' '; }

# JSON schema check: every line is one object with exactly the documented keys.
check_json() { # check_json FILE N_CLASSES HEART(0/1)
    "$py" - "$@" <<'EOF'
import json, math, sys
path, k, heart = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
lines = open(path).read().splitlines()
assert lines, "no output"
for line in lines:
    o = json.loads(line)
    assert list(o) == ["schema", "model", "image", "faces", "heart", "state"], list(o)
    assert o["schema"] == 1 and o["model"].endswith(".safetensors"), o["model"]
    for f in o["faces"]:
        assert list(f) == ["box", "angle", "score", "probabilities", "emotion", "confidence"], list(f)
        assert len(f["box"]) == 4 and all(isinstance(v, int) for v in f["box"])
        assert 0 <= f["score"] <= 1
        p = f["probabilities"]
        assert len(p) == k, p
        assert abs(sum(p.values()) - 1) < 2e-3, sum(p.values())
        assert f["emotion"] == max(p, key=p.get) and f["confidence"] == p[f["emotion"]]
    if heart:
        h = o["heart"]
        assert list(h) == ["bpm", "level", "arousal"], h
        assert h["level"] in ("low", "moderate", "high") and 0 <= h["arousal"] <= 1
    else:
        assert o["heart"] is None
    s = o["state"]
    if not o["faces"]:
        assert s is None
        continue
    assert list(s) == ["face", "emotion", "intensity", "label", "valence", "arousal"], list(s)
    assert 0 <= s["face"] < len(o["faces"])
    assert s["intensity"] in ("mildly", "plain", "very")
    # one vocabulary: the state's emotion is its face's class name
    assert s["emotion"] == o["faces"][s["face"]]["emotion"], (s, o["faces"])
    assert s["label"].lower().find(s["emotion"][:3]) >= 0, s
    assert -1 <= s["valence"] <= 1 and 0 <= s["arousal"] <= 1
EOF
}

# --no-detect on a 48x48 crop: one face, the whole image, 7 classes, heart.
run nd "${W[@]}" --no-detect --json --bpm 88 "$tmp/face48.pgm"
[ $rc -eq 0 ] || fail "--no-detect exit $rc: $(cat "$tmp/nd.err")"
check_json "$tmp/nd.out" 7 1 || fail "--no-detect JSON"
grep -q '"box":\[0,0,48,48\]' "$tmp/nd.out" || fail "--no-detect box: $(cat "$tmp/nd.out")"
grep -q '"heart":{"bpm":88,"level":"moderate"' "$tmp/nd.out" || fail "heart: $(cat "$tmp/nd.out")"
[ -s "$tmp/nd.err" ] && fail "--no-detect wrote to stderr: $(cat "$tmp/nd.err")"

# A 5-class model gives 5 probabilities; no heart -> "heart":null.
run m5 --weights "$tmp/m5.safetensors" --no-detect --json "$tmp/face48.pgm"
[ $rc -eq 0 ] || fail "5-class exit $rc"
check_json "$tmp/m5.out" 5 0 || fail "5-class JSON"

# Heart rate raises the fused arousal of the same face.
run lo "${W[@]}" --no-detect --json --bpm 50 "$tmp/face48.pgm"
run hi "${W[@]}" --no-detect --json --bpm 150 "$tmp/face48.pgm"
arousal() { "$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["state"]["arousal"])' "$1"; }
"$py" -c 'import sys; sys.exit(not float(sys.argv[1]) < float(sys.argv[2]))' \
    "$(arousal "$tmp/lo.out")" "$(arousal "$tmp/hi.out")" || fail "arousal not rising with bpm"
# --heart-weight 0 ignores the heart rate.
run w0 "${W[@]}" --no-detect --json --bpm 150 --heart-weight 0 "$tmp/face48.pgm"
run m7 "${W[@]}" --no-detect --json "$tmp/face48.pgm"
[ "$(arousal "$tmp/w0.out")" = "$(arousal "$tmp/m7.out")" ] || fail "--heart-weight 0"

# The resting range follows --age and --resting-bpm: 95 bpm is moderate for an
# adult (60-100) and a 3-year-old (80-120), high against a resting 55 (45-85).
for args in "--bpm 95:moderate" "--bpm 95 --age 3:moderate" "--bpm 95 --resting-bpm 55:high" \
    "--bpm 75 --age 3:low"; do
    # shellcheck disable=SC2086
    run lvl "${W[@]}" --no-detect --json ${args%:*} "$tmp/face48.pgm"
    grep -q "\"level\":\"${args#*:}\"" "$tmp/lvl.out" || fail "$args: $(cat "$tmp/lvl.out" "$tmp/lvl.err")"
done

# --hr with RR intervals, and text output with the series summary.
printf 'rr_ms\n800\n810\n790\n805\n795\n' >"$tmp/rr.csv"
run rr "${W[@]}" --no-detect --hr "$tmp/rr.csv" "$tmp/face48.pgm"
[ $rc -eq 0 ] || fail "--hr exit $rc: $(cat "$tmp/rr.err")"
grep -q 'RMSSD 14.4 ms, SDNN 7.9 ms' "$tmp/rr.out" || fail "--hr text: $(cat "$tmp/rr.out")"
grep -q '^  state: ' "$tmp/rr.out" || fail "text state line"

# fer-predict's crop -> resize -> preprocess -> CNN on whole 48x48 FER2013
# faces agrees with fer-eval on the committed sample: the same number of
# correct predictions (and PNG and PGM copies of a face give the same answer).
eval_bin="$BUILD/bin/fer-eval"
if [ -x "$eval_bin" ]; then
    mkdir -p "$tmp/fer"
    "$py" - tests/data/fer2013-sample.csv "$tmp/fer" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
for i, r in enumerate(rows):
    px = bytes(int(v) for v in r["pixels"].split())
    open("%s/%02d-%s.pgm" % (sys.argv[2], i, r["emotion"]), "wb").write(b"P5\n48 48\n255\n" + px)
EOF
    run fer "${W[@]}" --no-detect --json "$tmp"/fer/*.pgm
    ours=$("$py" -c '
import json, os, sys
names = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
n = 0
for line in open(sys.argv[1]):
    o = json.loads(line)
    n += names.index(o["faces"][0]["emotion"]) == int(os.path.basename(o["image"])[3])
print(n)' "$tmp/fer.out")
    "$eval_bin" "${W[@]}" --data tests/data/fer2013-sample.csv --usage all --json >"$tmp/eval.json" 2>/dev/null
    theirs=$("$py" -c 'import json,sys; o=json.load(open(sys.argv[1])); print(round(o["accuracy"]*o["n"]))' "$tmp/eval.json")
    [ "$ours" = "$theirs" ] || fail "fer-predict $ours correct vs fer-eval $theirs on the sample"
    if "$py" -c 'import cv2' 2>/dev/null; then
        first=$(ls "$tmp"/fer/*.pgm | head -1)
        "$py" -c 'import cv2,sys; cv2.imwrite(sys.argv[2], cv2.imread(sys.argv[1], 0))' "$first" "$tmp/fer0.png"
        run png "${W[@]}" --no-detect --json "$tmp/fer0.png"
        run pgm "${W[@]}" --no-detect --json "$first"
        [ "$(sed 's/"image":"[^"]*"//' "$tmp/png.out")" = "$(sed 's/"image":"[^"]*"//' "$tmp/pgm.out")" ] ||
            fail "PNG and PGM of the same face differ"
    fi
else
    echo "predict.sh: fer-eval not built, consistency check skipped"
fi

# Impossible or malformed heart rates: exit 2, exactly one stderr line, no output.
for b in -5 0 999 abc nan 1e400 0x50 ''; do
    run bpm "${W[@]}" --no-detect --bpm "$b" "$tmp/face48.pgm"
    [ $rc -eq 2 ] || fail "--bpm '$b' exit $rc"
    [ "$(lines "$tmp/bpm.err")" = 1 ] || fail "--bpm '$b' stderr: $(cat "$tmp/bpm.err")"
    grep -q '^fer-predict: ' "$tmp/bpm.err" || fail "--bpm '$b' message prefix"
    [ -s "$tmp/bpm.out" ] && fail "--bpm '$b' printed a result"
done
printf '0,70\n1,abc\n' >"$tmp/badhr.csv"
run badhr "${W[@]}" --no-detect --hr "$tmp/badhr.csv" "$tmp/face48.pgm"
[ $rc -eq 2 ] && grep -q "badhr.csv:2: 'abc'" "$tmp/badhr.err" || fail "bad --hr: $(cat "$tmp/badhr.err")"

# Several images, some bad: the good ones are printed, one line per failure, exit 1.
run many "${W[@]}" --no-detect --json "$tmp/face48.pgm" "$tmp/missing.png" "$tmp/bad.jpg" \
    "$tmp/noise.pgm"
[ $rc -eq 1 ] || fail "several images exit $rc"
[ "$(lines "$tmp/many.out")" = 2 ] || fail "several images: $(cat "$tmp/many.out")"
check_json "$tmp/many.out" 7 0 || fail "several images JSON"
[ "$(lines "$tmp/many.err")" = 2 ] || fail "several images stderr: $(cat "$tmp/many.err")"
grep -q "^fer-predict: .*missing.png" "$tmp/many.err" || fail "missing file message"
grep -q "^fer-predict: .*bad.jpg" "$tmp/many.err" || fail "bad image message"

# Detection on a flat image finds no face: JSON with "faces":[] and state null, exit 3.
if [ -r /usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml ]; then
    run flat "${W[@]}" --json "$tmp/flat.pgm"
    [ $rc -eq 3 ] || fail "no-face exit $rc"
    check_json "$tmp/flat.out" 7 0 || fail "no-face JSON"
    grep -q '"faces":\[\],"heart":null,"state":null' "$tmp/flat.out" || fail "no-face JSON content"
    grep -q "no face found" "$tmp/flat.err" || fail "no-face message: $(cat "$tmp/flat.err")"
    # A real photo (opencv-doc): when OpenCV itself finds a face there, so must
    # we, inside the image.
    photo=/usr/share/doc/opencv-doc/examples/data/messi5.jpg
    if [ -r "$photo" ] && "$py" -c 'import cv2' 2>/dev/null; then
        run photo "${W[@]}" --json --bpm 72 "$photo"
        "$py" - "$photo" "$tmp/photo.out" "$rc" <<'EOF' || fail "photo: $(cat "$tmp/photo.out" "$tmp/photo.err")"
import cv2, json, sys
img = cv2.imread(sys.argv[1], cv2.IMREAD_GRAYSCALE)
c = cv2.CascadeClassifier("/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml")
ref = c.detectMultiScale(img, scaleFactor=1.1, minNeighbors=3, minSize=(30, 30))
lines = open(sys.argv[2]).read().splitlines()
assert len(lines) == 1
o = json.loads(lines[0])
assert (len(ref) > 0) == (len(o["faces"]) > 0), (ref, o["faces"])
assert (sys.argv[3] == "0") == (len(o["faces"]) > 0), sys.argv[3]
for f in o["faces"]:
    x, y, w, h = f["box"]
    assert x >= 0 and y >= 0 and w > 0 and h > 0
    assert x + w <= img.shape[1] and y + h <= img.shape[0]
EOF
        # Face choice and scores on the same photo, with the shipped models.
        run all --json --face all --bpm 72 "$photo"
        "$py" - "$tmp/all.out" <<'EOF' || fail "--face all: $(cat "$tmp/all.out" "$tmp/all.err")"
import json, sys
o = json.loads(open(sys.argv[1]).read())
fs = o["faces"]
assert fs and all("state" in f and "face" not in f["state"] for f in fs), fs
assert [f["score"] for f in fs] == sorted((f["score"] for f in fs), reverse=True)
best = max(range(len(fs)), key=lambda i: (fs[i]["score"], fs[i]["box"][2] * fs[i]["box"][3]))
assert o["state"]["face"] == best and o["state"]["label"] == fs[best]["state"]["label"], o["state"]
EOF
        run n1 --json --face 1 "$photo"
        grep -q '"state":{"face":0,' "$tmp/n1.out" || fail "--face 1: $(cat "$tmp/n1.out")"
        run n99 --json --face 99 "$photo"
        [ $rc -eq 3 ] && grep -q '"state":null' "$tmp/n99.out" && grep -q -- "--face 99: the photo has" "$tmp/n99.err" ||
            fail "--face 99: $rc $(cat "$tmp/n99.out" "$tmp/n99.err")"
        # --min-score: every face listed scores at least it; 0 keeps the most.
        for ms in 0 0.5 0.99; do
            run ms$ms --json --min-score $ms "$photo"
        done
        "$py" - "$tmp"/ms0.out "$tmp"/ms0.5.out "$tmp"/ms0.99.out <<'EOF' || fail "--min-score: $(cat "$tmp"/ms*.out)"
import json, sys
counts = []
for path, ms in zip(sys.argv[1:], (0, 0.5, 0.99)):
    fs = json.loads(open(path).read())["faces"]
    assert all(f["score"] >= ms for f in fs), (ms, fs)
    counts.append(len(fs))
assert counts[0] >= counts[1] >= counts[2] and counts[0] > counts[2], counts
EOF
        # A batch goes on past a photo without a face: both printed, exit 3.
        run batch --json "$tmp/flat.pgm" "$photo"
        [ $rc -eq 3 ] && [ "$(lines "$tmp/batch.out")" = 2 ] && [ "$(lines "$tmp/batch.err")" = 1 ] ||
            fail "batch with a faceless photo: $rc $(cat "$tmp/batch.out" "$tmp/batch.err")"
    else
        echo "predict.sh: opencv-doc photo or python3-opencv absent, real-photo check skipped"
    fi
else
    echo "predict.sh: opencv-data cascade absent, detection checks skipped"
fi

# --annotate writes a PNG of the photo's size; an unwritable path is one error line.
run ann "${W[@]}" --no-detect --bpm 120 --annotate "$tmp/ann.png" "$tmp/noise.pgm"
[ $rc -eq 0 ] || fail "--annotate exit $rc: $(cat "$tmp/ann.err")"
"$py" -c 'import sys; d=open(sys.argv[1],"rb").read(24); assert d[:8]==b"\x89PNG\r\n\x1a\n"
assert int.from_bytes(d[16:20],"big")==64 and int.from_bytes(d[20:24],"big")==64' "$tmp/ann.png" ||
    fail "--annotate PNG"
run annbad "${W[@]}" --no-detect --annotate "$tmp/no/such/dir/a.png" "$tmp/noise.pgm"
[ $rc -eq 1 ] && [ "$(lines "$tmp/annbad.err")" = 1 ] || fail "--annotate bad path: $rc $(cat "$tmp/annbad.err")"

# Models whose classes are not distinct FER2013 emotions are refused.
"$BUILD/tests/test_predict_model" --write "$tmp/dup.safetensors" happy,happiness,sad || exit 1
"$BUILD/tests/test_predict_model" --write "$tmp/joy.safetensors" happy,joy,sad || exit 1
run dup --weights "$tmp/dup.safetensors" --no-detect "$tmp/face48.pgm"
[ $rc -eq 2 ] && grep -q "classes 0 and 1 are both 'happy'" "$tmp/dup.err" || fail "dup classes: $(cat "$tmp/dup.err")"
run joy --weights "$tmp/joy.safetensors" --no-detect "$tmp/face48.pgm"
[ $rc -eq 2 ] && grep -q "class 'joy' is not a FER2013 emotion" "$tmp/joy.err" || fail "joy class: $(cat "$tmp/joy.err")"

# Usage errors: exit 2 with one line.
for args in "--bpm 80 --hr $tmp/rr.csv $tmp/face48.pgm" "--age 30 $tmp/face48.pgm" \
    "--margin 2 $tmp/face48.pgm" "--scale-factor 1 $tmp/face48.pgm" "--threads 0 $tmp/face48.pgm" \
    "--frobnicate $tmp/face48.pgm" "" "--weights $tmp/missing.safetensors $tmp/face48.pgm" \
    "--weights $tmp/bad.jpg $tmp/face48.pgm" "--annotate $tmp/a.png $tmp/face48.pgm $tmp/face48.pgm" \
    "--face-weight 0 --heart-weight 0 $tmp/face48.pgm" "--cascade $tmp/bad.jpg $tmp/face48.pgm" \
    "--min-score 1.5 $tmp/face48.pgm" "--face 0 $tmp/face48.pgm" "--face worst $tmp/face48.pgm" \
    "--verifier $tmp/m7.safetensors $tmp/flat.pgm"; do
    # shellcheck disable=SC2086
    run usage "${W[@]}" $args
    [ $rc -eq 2 ] || fail "'$args' exit $rc"
    [ "$(lines "$tmp/usage.err")" = 1 ] || fail "'$args' stderr: $(cat "$tmp/usage.err")"
done
# No --weights and no model where FER_DATA_DIR points: say so and how to fix it.
FER_DATA_DIR="$tmp" run now --no-detect "$tmp/face48.pgm"
[ $rc -eq 2 ] && grep -q "no weights found: $tmp/weights/fer-vgg.safetensors does not exist (pass --weights FILE)" \
    "$tmp/now.err" || fail "no weights: $rc $(cat "$tmp/now.err")"
# The shipped fer-vgg model is the default: the same output as naming it, by file or by name.
run dflt --no-detect --json "$tmp/face48.pgm"
"$bin" --weights weights/fer-vgg.safetensors --no-detect --json "$tmp/face48.pgm" >"$tmp/named.out" 2>/dev/null
[ $rc -eq 0 ] && cmp -s "$tmp/dflt.out" "$tmp/named.out" || fail "default weights differ from weights/fer-vgg.safetensors"
"$bin" --weights fer-vgg --no-detect --json "$tmp/face48.pgm" >"$tmp/vgg.out" 2>/dev/null &&
    cmp -s "$tmp/vgg.out" "$tmp/named.out" || fail "--weights fer-vgg is not weights/fer-vgg.safetensors"
# paper is the reference CNN's file, another answer; an unknown name is one line.
"$bin" --weights weights/fer-7class.safetensors --no-detect --json "$tmp/face48.pgm" >"$tmp/named7.out" 2>/dev/null
"$bin" --weights paper --no-detect --json "$tmp/face48.pgm" >"$tmp/paper.out" 2>/dev/null &&
    cmp -s "$tmp/paper.out" "$tmp/named7.out" || fail "--weights paper is not weights/fer-7class.safetensors"
cmp -s "$tmp/paper.out" "$tmp/named.out" && fail "--weights paper gave the default model's output"
# The two 5-class models by name are their files, and differ.
for m in fer-vgg-5class:fer-vgg-5class paper-5class:fer-5class; do
    "$bin" --weights "weights/${m#*:}.safetensors" --no-detect --json "$tmp/face48.pgm" >"$tmp/file5.out" 2>/dev/null
    "$bin" --weights "${m%%:*}" --no-detect --json "$tmp/face48.pgm" >"$tmp/${m%%:*}.out" 2>/dev/null &&
        cmp -s "$tmp/file5.out" "$tmp/${m%%:*}.out" || fail "--weights ${m%%:*} is not weights/${m#*:}.safetensors"
done
cmp -s "$tmp/fer-vgg-5class.out" "$tmp/paper-5class.out" && fail "the two 5-class models gave one output"
# The default test-time augmentation is pair: the same output as naming it, not zoom's
# nor flip's (on a picture that is neither flat nor symmetric, a diagonal ramp).
"$py" -c 'import sys; sys.stdout.buffer.write(b"P5\n48 48\n255\n" + bytes((3 * x + y * y // 9) % 256 for y in range(48) for x in range(48)))' >"$tmp/ramp.pgm"
"$bin" --no-detect --json "$tmp/ramp.pgm" >"$tmp/ramp.out" 2>/dev/null
"$bin" --tta=pair --no-detect --json "$tmp/ramp.pgm" >"$tmp/pair.out" 2>/dev/null &&
    cmp -s "$tmp/pair.out" "$tmp/ramp.out" || fail "the default TTA is not pair"
"$bin" --tta=zoom --no-detect --json "$tmp/ramp.pgm" >"$tmp/zoom.out" 2>/dev/null &&
    ! cmp -s "$tmp/zoom.out" "$tmp/ramp.out" || fail "--tta=zoom gave the default's output"
"$bin" --tta=flip --no-detect --json "$tmp/ramp.pgm" >"$tmp/flip.out" 2>/dev/null &&
    ! cmp -s "$tmp/flip.out" "$tmp/ramp.out" || fail "--tta=flip gave the default's output"
run noname --weights vgg-9000 --no-detect "$tmp/face48.pgm"
[ $rc -eq 2 ] && grep -q "^fer-predict: --weights vgg-9000: no such file, nor a shipped model (fer-vgg, paper, fer-vgg-5class, paper-5class)$" \
    "$tmp/noname.err" || fail "unknown model name: $rc $(cat "$tmp/noname.err")"
run help --help
[ $rc -eq 0 ] && grep -q -- '--heart-weight' "$tmp/help.out" || fail "--help"

[ $fails -eq 0 ] && echo "predict.sh: all checks passed"
[ $fails -eq 0 ]
