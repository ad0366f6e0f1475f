#!/usr/bin/env bash
# fer-eval end to end: random-weight models (tests/test_predict_model) on the
# committed FER2013 sample, as CSV, stdin and image folders; JSON shape,
# usage filtering, class mapping, TTA, SVG, and one-line errors.
set -u
BUILD="${BUILD:-build}"
EVAL="$BUILD/bin/fer-eval"
MAKE_MODEL="$BUILD/tests/test_predict_model"
SAMPLE=tests/data/fer2013-sample.csv
PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# seed 5: a random model whose predictions are not all one class on the sample
"$MAKE_MODEL" --write "$tmp/m7.safetensors" 7 5 || { echo "FAIL: writing a 7-class model"; exit 1; }
"$MAKE_MODEL" --write "$tmp/m5.safetensors" 5 5 || { echo "FAIL: writing a 5-class model"; exit 1; }

# Rows of the fixture per usage and per class, counted with awk.
rows() { awk -F, -v u="$1" 'NR > 1 && NF && (u == "all" || $3 == u)' "$SAMPLE" | wc -l; }

# check_json FILE N CLASSES: keys, shapes, sums, accuracy = trace / n.
check_json() {
    "$PY" - "$1" "$2" "$3" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
n, classes = int(sys.argv[2]), sys.argv[3].split(",")
assert list(d) == ["schema", "model", "accuracy", "n", "per_class", "confusion", "classes"], list(d)
assert d["schema"] == 1 and d["model"].endswith(".safetensors"), (d["schema"], d["model"])
assert d["n"] == n, (d["n"], n)
assert d["classes"] == classes, d["classes"]
assert list(d["per_class"]) == classes
for c, m in d["per_class"].items():
    assert set(m) == {"precision", "recall", "f1"}, m
    assert all(0 <= v <= 1 for v in m.values()), m
k = len(classes)
cm = d["confusion"]
assert len(cm) == k and all(len(r) == k for r in cm)
assert sum(map(sum, cm)) == n
trace = sum(cm[i][i] for i in range(k))
assert abs(d["accuracy"] - trace / n) < 1e-6, (d["accuracy"], trace, n)
for i, c in enumerate(classes):
    m = d["per_class"][c]
    support, predicted = sum(cm[i]), sum(r[i] for r in cm)
    recall = cm[i][i] / support if support else 0
    precision = cm[i][i] / predicted if predicted else 0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0
    assert abs(m["recall"] - recall) < 1e-6, (c, m, recall)
    assert abs(m["precision"] - precision) < 1e-6, (c, m, precision)
    assert abs(m["f1"] - f1) < 1e-6, (c, m, f1)
EOF
}

# expect_error DESC ARGS...: non-zero exit, nothing on stdout, one "fer-eval: " line on stderr.
expect_error() {
    local desc=$1
    shift
    "$EVAL" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
    local rc=$?
    [ $rc -ne 0 ] || fail "$desc: exit status 0"
    [ ! -s "$tmp/out" ] || fail "$desc: wrote to stdout"
    [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "$desc: stderr is not one line: $(cat "$tmp/err")"
    grep -q '^fer-eval: ' "$tmp/err" || fail "$desc: stderr lacks the program name: $(cat "$tmp/err")"
}

W7=(--weights "$tmp/m7.safetensors")
ALL7=angry,disgust,fear,happy,sad,surprise,neutral

# 1. every usage, JSON shape and sums
for u in all Training PublicTest; do
    "$EVAL" "${W7[@]}" --data "$SAMPLE" --usage "$u" --json >"$tmp/$u.json" 2>"$tmp/err" ||
        fail "--usage $u: $(cat "$tmp/err")"
    check_json "$tmp/$u.json" "$(rows "$u")" "$ALL7" || fail "--usage $u: JSON check"
done
# default usage on a CSV with a Usage column is PublicTest
"$EVAL" "${W7[@]}" --data "$SAMPLE" --json >"$tmp/default.json" 2>/dev/null &&
    cmp -s "$tmp/default.json" "$tmp/PublicTest.json" || fail "default usage is not PublicTest"
# confusion of "all" = Training + PublicTest, cell by cell
"$PY" -c '
import json, sys
a, t, p = (json.load(open(sys.argv[i]))["confusion"] for i in (1, 2, 3))
assert all(a[i][j] == t[i][j] + p[i][j] for i in range(7) for j in range(7))
' "$tmp/all.json" "$tmp/Training.json" "$tmp/PublicTest.json" || fail "usage split sums"

# 2. stdin and batch sizes give the same result
"$EVAL" "${W7[@]}" --data - --usage all --json <"$SAMPLE" >"$tmp/stdin.json" 2>/dev/null &&
    cmp -s "$tmp/stdin.json" "$tmp/all.json" || fail "stdin differs from file"
for b in 1 5; do
    "$EVAL" "${W7[@]}" --data "$SAMPLE" --usage all --json --batch $b --threads 1 >"$tmp/b$b.json" 2>/dev/null &&
        cmp -s "$tmp/b$b.json" "$tmp/all.json" || fail "--batch $b differs"
done

# 3. a 5-class model: rows of fear and surprise are dropped, classes in the model's order
"$EVAL" --weights "$tmp/m5.safetensors" --data "$SAMPLE" --usage all --json >"$tmp/m5.json" 2>"$tmp/err" ||
    fail "5-class: $(cat "$tmp/err")"
n5=$(awk -F, 'NR > 1 && NF && $1 != 2 && $1 != 5' "$SAMPLE" | wc -l)
check_json "$tmp/m5.json" "$n5" neutral,happy,sad,angry,disgust || fail "5-class JSON"
"$PY" -c '
import json, sys, csv
d = json.load(open(sys.argv[1]))
fer = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
rows = list(csv.DictReader(open(sys.argv[2])))
for i, c in enumerate(d["classes"]):
    want = sum(1 for r in rows if fer[int(r["emotion"])] == c)
    assert sum(d["confusion"][i]) == want, (c, want)
' "$tmp/m5.json" "$SAMPLE" || fail "5-class: true-class counts"

# 4. TTA: on left-right symmetric images it changes nothing; otherwise still valid
"$PY" - "$SAMPLE" "$tmp/sym.csv" <<'EOF'
import sys
lines = open(sys.argv[1]).read().splitlines()
out = [lines[0]]
for ln in lines[1:]:
    e, px, u = ln.split(",")
    v = px.split()
    for y in range(48):
        row = v[y * 48:(y + 1) * 48]
        v[y * 48:(y + 1) * 48] = row[:24] + row[:24][::-1]
    out.append(",".join([e, " ".join(v), u]))
open(sys.argv[2], "w").write("\n".join(out) + "\n")
EOF
"$EVAL" "${W7[@]}" --data "$tmp/sym.csv" --usage all --json --tta=none >"$tmp/sym.json" 2>/dev/null &&
    "$EVAL" "${W7[@]}" --data "$tmp/sym.csv" --usage all --json --tta=flip >"$tmp/sym-tta.json" 2>/dev/null &&
    cmp -s "$tmp/sym.json" "$tmp/sym-tta.json" || fail "flip TTA changed symmetric images"
"$EVAL" "${W7[@]}" --data "$SAMPLE" --usage all --json --tta=flip >"$tmp/tta.json" 2>/dev/null &&
    check_json "$tmp/tta.json" "$(rows all)" "$ALL7" || fail "--tta=flip JSON"
"$EVAL" "${W7[@]}" --data "$SAMPLE" --usage all --json --tta=none >"$tmp/none.json" 2>/dev/null &&
    check_json "$tmp/none.json" "$(rows all)" "$ALL7" || fail "--tta=none JSON"
cmp -s "$tmp/none.json" "$tmp/tta.json" && fail "--tta=flip gave the figures without TTA"
# zoom: six views, another answer than flip's
"$EVAL" "${W7[@]}" --data "$SAMPLE" --usage all --json --tta=zoom >"$tmp/zoom.json" 2>/dev/null &&
    check_json "$tmp/zoom.json" "$(rows all)" "$ALL7" || fail "--tta=zoom JSON"
cmp -s "$tmp/zoom.json" "$tmp/tta.json" && fail "--tta=zoom gave flip's figures"
# pair: four views (zoom's less the image and its mirror), another answer than zoom's
"$EVAL" "${W7[@]}" --data "$SAMPLE" --usage all --json --tta=pair >"$tmp/pair.json" 2>/dev/null &&
    check_json "$tmp/pair.json" "$(rows all)" "$ALL7" || fail "--tta=pair JSON"
cmp -s "$tmp/pair.json" "$tmp/zoom.json" && fail "--tta=pair gave zoom's figures"
# The default, and a bare --tta, are the tools' pair TTA.
"$EVAL" "${W7[@]}" --data "$SAMPLE" --usage all --json >"$tmp/default.json" 2>/dev/null &&
    cmp -s "$tmp/default.json" "$tmp/pair.json" || fail "the default is not --tta=pair"
"$EVAL" "${W7[@]}" --data "$SAMPLE" --usage all --json --tta >"$tmp/bare.json" 2>/dev/null &&
    cmp -s "$tmp/bare.json" "$tmp/pair.json" || fail "a bare --tta is not --tta=pair"

# 5. text report and SVG heat map
"$EVAL" "${W7[@]}" --data "$SAMPLE" --usage all --confusion "$tmp/cm.svg" >"$tmp/report.txt" 2>/dev/null ||
    fail "--confusion run"
grep -q '^accuracy [0-9.]* ([0-9]* of 21 correct)' "$tmp/report.txt" || fail "text report: accuracy line"
grep -q '^confusion matrix' "$tmp/report.txt" || fail "text report: confusion matrix"
[ "$(grep -cE '^(angry|disgust|fear|happy|sad|surprise|neutral) ' "$tmp/report.txt")" -eq 14 ] ||
    fail "text report: 7 metric rows and 7 matrix rows"
"$PY" - "$tmp/cm.svg" "$tmp/all.json" <<'EOF' || fail "SVG check"
import json, sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
ns = "{http://www.w3.org/2000/svg}"
assert root.tag == ns + "svg", root.tag
texts = [t.text for t in root.iter(ns + "text")]
d = json.load(open(sys.argv[2]))
for c in d["classes"]:
    assert texts.count(c) == 2, c  # column and row label
counts = [int(t) for t in texts if t and t.isdigit()]
assert sorted(counts) == sorted(v for r in d["confusion"] for v in r), counts
assert any("accuracy" in (t or "") for t in texts)
assert len(list(root.iter(ns + "rect"))) >= 49
EOF
ls "$tmp" | grep -q '\.tmp\.' && fail "temporary file left behind"

# 6. image folders (Keras layout) give the same confusion as the CSV rows
"$PY" - "$SAMPLE" "$tmp/faces" <<'EOF' || fail "writing image folders"
import os, sys
fer = ["Angry", "disgust", "FEAR", "happy", "sad", "surprise", "neutral"]
lines = open(sys.argv[1]).read().splitlines()[1:]
for i, ln in enumerate(lines):
    e, px, u = ln.split(",")
    d = os.path.join(sys.argv[2], fer[int(e)])
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "%03d.pgm" % i), "wb") as f:
        f.write(b"P5 48 48 255\n" + bytes(int(v) for v in px.split()))
os.makedirs(os.path.join(sys.argv[2], "contempt"))
open(os.path.join(sys.argv[2], "happy", "README.txt"), "w").write("not an image\n")
EOF
"$EVAL" "${W7[@]}" --data "$tmp/faces" --json >"$tmp/dir.json" 2>"$tmp/err" || fail "--data DIR: $(cat "$tmp/err")"
check_json "$tmp/dir.json" "$(rows all)" "$ALL7" || fail "--data DIR JSON"
"$PY" -c '
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert a["confusion"] == b["confusion"], (a["confusion"], b["confusion"])
' "$tmp/dir.json" "$tmp/all.json" || fail "--data DIR differs from the CSV"
expect_error "folder data with --usage PublicTest" "${W7[@]}" --data "$tmp/faces" --usage PublicTest
printf 'garbage' >"$tmp/faces/sad/999.png"
expect_error "undecodable image" "${W7[@]}" --data "$tmp/faces"
grep -q '999.png' "$tmp/err" || fail "undecodable image not named: $(cat "$tmp/err")"

# 6b. ensembles (--weights given several times): one model whose logits are
# the members' mean, so a model with itself is the model, the order of two does not
# matter, and with two different models that says something (they differ);
# other classes, or more than 8 models, are refused.
"$MAKE_MODEL" --write "$tmp/m7b.safetensors" 7 6 || fail "writing a second 7-class model"
ens() { "$EVAL" "$@" --data "$SAMPLE" --usage all --json 2>"$tmp/err" || fail "ensemble $*: $(cat "$tmp/err")"; }
ens --weights "$tmp/m7.safetensors" >"$tmp/e-a.json"
ens --weights "$tmp/m7b.safetensors" >"$tmp/e-b.json"
ens --weights "$tmp/m7.safetensors" --weights "$tmp/m7.safetensors" >"$tmp/e-aa.json"
ens --weights "$tmp/m7.safetensors" --weights "$tmp/m7b.safetensors" >"$tmp/e-ab.json"
ens --weights "$tmp/m7b.safetensors" --weights "$tmp/m7.safetensors" >"$tmp/e-ba.json"
ens --weights "$tmp/m7.safetensors" --weights "$tmp/m7b.safetensors" --save-ensemble "$tmp/ab.safetensors" >/dev/null
ens --weights "$tmp/ab.safetensors" >"$tmp/e-saved.json"
"$PY" - "$tmp" <<'EOF' || fail "ensembles"
import json, sys
d = {k: json.load(open("%s/e-%s.json" % (sys.argv[1], k))) for k in ("a", "b", "aa", "ab", "ba", "saved")}
assert d["aa"]["confusion"] == d["a"]["confusion"], "a model with itself is not the model"
assert d["a"]["confusion"] != d["b"]["confusion"], "the two models agree: the checks below say nothing"
assert d["ab"]["confusion"] == d["ba"]["confusion"], "the order of the models matters"
assert d["ab"]["model"] == "m7.safetensors+m7b.safetensors", d["ab"]["model"]
assert d["saved"]["confusion"] == d["ab"]["confusion"], "the saved ensemble is another model"
EOF
expect_error "ensemble of 7 and 5 classes" --weights "$tmp/m7.safetensors" --weights "$tmp/m5.safetensors" --data "$SAMPLE"
grep -q "m7.safetensors+m5.safetensors: ensemble: model 2's input shape or classes differ" "$tmp/err" ||
    fail "class mismatch message: $(cat "$tmp/err")"
expect_error "--save-ensemble of one model" --weights "$tmp/m7.safetensors" --save-ensemble "$tmp/one.safetensors" --data "$SAMPLE"
grep -q 'needs two or more --weights' "$tmp/err" || fail "--save-ensemble usage: $(cat "$tmp/err")"
nine=(); for i in 1 2 3 4 5 6 7 8 9; do nine+=(--weights "$tmp/m7.safetensors"); done
expect_error "nine models" "${nine[@]}" --data "$SAMPLE"

# 7. errors: one line, non-zero exit
expect_error "unknown --tta" "${W7[@]}" --data "$SAMPLE" --tta=ten-crop
expect_error "no arguments"
expect_error "unknown option" --frobnicate
expect_error "missing --data" "${W7[@]}"
expect_error "--data without value" "${W7[@]}" --data
expect_error "bad usage" "${W7[@]}" --data "$SAMPLE" --usage Validation
expect_error "bad batch" "${W7[@]}" --data "$SAMPLE" --batch 0
expect_error "bad threads" "${W7[@]}" --data "$SAMPLE" --threads x
expect_error "missing weights" --weights "$tmp/none.safetensors" --data "$SAMPLE"
expect_error "weights are not a model" --weights "$SAMPLE" --data "$SAMPLE"
expect_error "missing data" "${W7[@]}" --data "$tmp/none.csv"
expect_error "no PrivateTest rows" "${W7[@]}" --data "$SAMPLE" --usage PrivateTest
printf 'emotion,pixels,Usage\n' >"$tmp/empty.csv"
expect_error "header only" "${W7[@]}" --data "$tmp/empty.csv" --usage all
{ head -3 "$SAMPLE"; echo "9,1 2 3,Training"; } >"$tmp/bad.csv"
expect_error "bad row" "${W7[@]}" --data "$tmp/bad.csv" --usage all
grep -q 'bad.csv:4: ' "$tmp/err" || fail "bad row: no line number: $(cat "$tmp/err")"
"$EVAL" "${W7[@]}" --data "$tmp/bad.csv" --usage all --skip-bad --json >"$tmp/skip.json" 2>"$tmp/err" ||
    fail "--skip-bad: $(cat "$tmp/err")"
grep -q 'skipped 1 bad rows' "$tmp/err" || fail "--skip-bad: no warning"
check_json "$tmp/skip.json" 2 "$ALL7" || fail "--skip-bad JSON"
expect_error "unwritable SVG" "${W7[@]}" --data "$SAMPLE" --usage all --confusion "$tmp/no/such/dir/cm.svg"
# No --weights and no model where FER_DATA_DIR points: say so and how to fix it.
FER_DATA_DIR="$tmp" expect_error "no default weights" --data "$SAMPLE"
grep -q -- '--weights' "$tmp/err" || fail "no default weights: message does not mention --weights"
"$EVAL" --help | grep -q '^usage: fer-eval' || fail "--help"

[ $fails -eq 0 ] && echo "eval.sh: all checks passed"
[ $fails -eq 0 ]
