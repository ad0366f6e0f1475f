#!/usr/bin/env bash
# The tools' SVG pictures (tools/plot.c), checked by tests/svg_check.py (texts
# inside the picture, round distinct ticks, a visible mark for every series,
# a key that covers no data): fer-train --plot after 1 and 3 epochs, fer-eval
# --confusion with the shipped 7- and 5-class models, tests/plot-svg with 60
# epochs, a flat series and a one-point series, long titles, a long word and
# 12 classes with long names, and the committed pictures in docs/img.
set -u
BUILD=${BUILD:-build}
TRAIN="$BUILD/bin/fer-train"
EVAL="$BUILD/bin/fer-eval"
PLOT="$BUILD/tests/plot-svg"
SAMPLE=tests/data/fer2013-sample.csv
PY=/usr/bin/python3
tmp=$(mktemp -d /tmp/plot.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "plot.sh: FAIL: $*"; fails=$((fails + 1)); }

for n in 1 3; do
    "$TRAIN" --data "$SAMPLE" --epochs $n --batch 8 --threads 2 --quiet --out "$tmp/m$n.safetensors" \
        --plot "$tmp/train-$n.svg" 2>"$tmp/err" || fail "fer-train --epochs $n: $(tail -n 1 "$tmp/err")"
    [ $n -eq 1 ] && { grep -q 'done after 1 epoch;' "$tmp/err" || fail "1 epoch: $(tail -n 1 "$tmp/err")"; }
done
grep -q '>fer-train: 1 epoch, best' "$tmp/train-1.svg" || fail "1-epoch title: $(grep -o 'fer-train: [^<]*' "$tmp/train-1.svg")"
"$EVAL" --weights weights/fer-7class.safetensors --data "$SAMPLE" --usage all --confusion "$tmp/eval-7.svg" \
    >/dev/null 2>"$tmp/err" || fail "fer-eval 7 classes: $(tail -n 1 "$tmp/err")"
"$EVAL" --weights weights/fer-5class.safetensors --data "$SAMPLE" --usage all --tta \
    --confusion "$tmp/eval-5.svg" >/dev/null 2>"$tmp/err" || fail "fer-eval 5 classes: $(tail -n 1 "$tmp/err")"

# Made-up figures: 60 epochs; 30 with a flat training loss and a single
# validation point (epoch 17).
awk 'BEGIN { print "epoch,loss,accuracy,val_loss,val_accuracy"
             for (e = 1; e <= 60; e++) printf "%d,%.6f,%.6f,%.6f,%.6f\n", e, 0.9 + 0.9 * exp(-e / 12),
                 0.68 - 0.43 * exp(-e / 10), 0.95 + 0.9 * exp(-e / 12) + 0.05 * sin(e), 0.66 - 0.4 * exp(-e / 9) }' \
    >"$tmp/m60.csv"
awk 'BEGIN { print "epoch,loss,accuracy,val_loss,val_accuracy"
             for (e = 1; e <= 30; e++) printf "%d,1,%.2f,%s,%s\n", e, 0.5 + e / 100, e == 17 ? "0.8" : "nan",
                 e == 17 ? "0.61" : "nan" }' >"$tmp/gaps.csv"
long="fer-train: a long title that goes on about the run, its data set, its augmentation (flip, shift, rotate, zoom, brightness) and its learning rate schedule"
word="A-title-of-a-single-word-longer-than-the-picture-is-wide-so-that-the-picture-must-grow-to-hold-it"
cm5=neutral,happy,sad,angry,disgust
counts5=386,60,100,60,1,56,784,17,37,1,142,46,362,102,1,61,25,71,305,5,5,1,9,25,16
"$PLOT" curves "$tmp/c60.svg" "fer-train: 60 epochs, best validation accuracy 0.6500" "$tmp/m60.csv" &&
    "$PLOT" curves "$tmp/gaps.svg" "fer-train: 30 epochs" "$tmp/gaps.csv" &&
    "$PLOT" curves "$tmp/long.svg" "$long" "$tmp/m60.csv" &&
    "$PLOT" curves "$tmp/word.svg" "$word" "$tmp/m60.csv" &&
    "$PLOT" confusion "$tmp/cm5.svg" "Confusion matrix: accuracy 69.19% (n = 2678, Usage PublicTest)" $cm5 $counts5 &&
    "$PLOT" confusion "$tmp/cm5-long.svg" "$long" $cm5 $counts5 &&
    "$PLOT" confusion "$tmp/cm2-word.svg" "$word" face,a-class-with-a-long-name 50,1,2,47 &&
    "$PLOT" confusion "$tmp/cm12.svg" "12 classes" "$(seq -s, -f 'class-with-a-long-name-%02g' 1 12)" \
        "$(seq -s, 1 144)" || fail "plot-svg"

"$PY" tests/svg_check.py "$tmp"/*.svg docs/img/*.svg || fail "svg_check.py (above)"

# Wrapped titles keep every word, in order.
"$PY" - "$tmp/long.svg" "$tmp/cm5-long.svg" "$tmp/word.svg" "$long" "$word" <<'EOF' || fail "wrapped titles"
import sys, xml.etree.ElementTree as ET
words = " ".join(t.text or "" for f in sys.argv[1:4] for t in ET.parse(f).getroot().iter("{http://www.w3.org/2000/svg}text"))
for title in sys.argv[4:]:
    assert " ".join(title.split()) in " ".join(words.split()), title
EOF
[ "$fails" -eq 0 ]
