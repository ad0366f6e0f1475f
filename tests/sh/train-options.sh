#!/usr/bin/env bash
# fer-train's --init (fine-tuning from a model file) and --augment=LIST, on
# the committed FER2013 sample (14 training, 7 validation rows).
set -u
BUILD=${BUILD:-build}
TRAIN="$BUILD/bin/fer-train"
MAKE_MODEL="$BUILD/tests/test_predict_model"
SAMPLE=tests/data/fer2013-sample.csv
tmp=$(mktemp -d /tmp/train-options.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "train-options.sh: FAIL: $*"; fails=$((fails + 1)); }
ARGS=(--data "$SAMPLE" --epochs 1 --batch 8 --threads 2 --quiet)
# val_loss of the first epoch in a --log file
val_loss() { awk -F, 'NR == 2 { print $4 }' "$1"; }

# --init: one epoch at the smallest learning rate leaves the weights where
# --init put them, so the validation loss is the starting model's; a fresh
# model (another seed) lands elsewhere.
"$TRAIN" "${ARGS[@]}" --seed 1 --out "$tmp/a.safetensors" --log "$tmp/a.csv" 2>"$tmp/err" ||
    fail "training the starting model: $(tail -n 1 "$tmp/err")"
"$TRAIN" "${ARGS[@]}" --seed 2 --lr 1e-9 --init "$tmp/a.safetensors" --out "$tmp/b.safetensors" \
    --log "$tmp/b.csv" 2>"$tmp/err" || fail "--init: $(tail -n 1 "$tmp/err")"
"$TRAIN" "${ARGS[@]}" --seed 2 --lr 1e-9 --out "$tmp/c.safetensors" --log "$tmp/c.csv" \
    2>"$tmp/err" || fail "fresh run: $(tail -n 1 "$tmp/err")"
a=$(val_loss "$tmp/a.csv") b=$(val_loss "$tmp/b.csv") c=$(val_loss "$tmp/c.csv")
awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; exit !(d < 1e-4 && d > -1e-4) }' ||
    fail "--init: validation loss $b, the starting model's is $a"
awk -v a="$a" -v c="$c" 'BEGIN { d = a - c; exit !(d > 1e-3 || d < -1e-3) }' ||
    fail "a fresh model has the starting model's validation loss ($a): the check cannot tell"

# --init refuses a model of other classes, a broken file, and --resume.
"$MAKE_MODEL" --write "$tmp/m5.safetensors" 5 5 || fail "writing a 5-class model"
"$TRAIN" "${ARGS[@]}" --init "$tmp/m5.safetensors" --out "$tmp/d.safetensors" 2>"$tmp/err" &&
    fail "--init with a 5-class model for 7 classes succeeded"
grep -q "m5.safetensors: the model's classes differ" "$tmp/err" || fail "class mismatch message: $(cat "$tmp/err")"
head -c 100 "$tmp/a.safetensors" >"$tmp/cut.safetensors"
"$TRAIN" "${ARGS[@]}" --init "$tmp/cut.safetensors" --out "$tmp/d.safetensors" 2>"$tmp/err" &&
    fail "--init with a truncated model succeeded"
grep -q "cut.safetensors" "$tmp/err" || fail "truncated --init message: $(cat "$tmp/err")"
"$TRAIN" "${ARGS[@]}" --init "$tmp/a.safetensors" --resume "$tmp/a.safetensors.ckpt" 2>"$tmp/err"
[ $? -eq 2 ] || fail "--init with --resume: not a usage error"
[ ! -e "$tmp/d.safetensors" ] || fail "a failed run wrote its output"

# --augment=LIST: each subset is a different transform (so a different
# loss), a bad name is an error naming the value.
for aug in "" "=flip" "=flip,shift" "=rotate,zoom,brightness"; do
    "$TRAIN" "${ARGS[@]}" --seed 3 --augment$aug --out "$tmp/aug.safetensors" \
        --log "$tmp/aug$aug.csv" 2>"$tmp/err" || fail "--augment$aug: $(tail -n 1 "$tmp/err")"
done
losses=$(for f in "$tmp"/aug*.csv; do awk -F, 'NR == 2 { print $2 }' "$f"; done | sort -u | wc -l)
[ "$losses" -eq 4 ] || fail "--augment subsets: $losses distinct training losses of 4"
"$TRAIN" "${ARGS[@]}" --augment=flip,tilt 2>"$tmp/err" && fail "--augment=flip,tilt succeeded"
grep -q 'flip,tilt' "$tmp/err" || fail "bad --augment message: $(cat "$tmp/err")"

# --erase P: random erasing, before or after --augment (the same run), or
# alone; 0 is the plain run byte for byte; out of 0..1 is a usage error.
"$TRAIN" "${ARGS[@]}" --seed 3 --augment --erase 0.5 --out "$tmp/e1.safetensors" \
    --log "$tmp/e1.csv" 2>"$tmp/err" || fail "--erase 0.5: $(tail -n 1 "$tmp/err")"
"$TRAIN" "${ARGS[@]}" --seed 3 --erase 0.5 --augment --out "$tmp/e2.safetensors" 2>"$tmp/err" ||
    fail "--erase before --augment: $(tail -n 1 "$tmp/err")"
cmp -s "$tmp/e1.safetensors" "$tmp/e2.safetensors" || fail "--erase: the order of options matters"
[ "$(awk -F, 'NR == 2 { print $2 }' "$tmp/e1.csv")" != "$(awk -F, 'NR == 2 { print $2 }' "$tmp/aug.csv")" ] ||
    fail "--erase 0.5 leaves the training loss of --augment"
"$TRAIN" "${ARGS[@]}" --seed 3 --augment --erase 0 --out "$tmp/e0.safetensors" 2>"$tmp/err" ||
    fail "--erase 0: $(tail -n 1 "$tmp/err")"
"$TRAIN" "${ARGS[@]}" --seed 3 --augment --out "$tmp/ea.safetensors" 2>"$tmp/err" ||
    fail "--augment: $(tail -n 1 "$tmp/err")"
cmp -s "$tmp/e0.safetensors" "$tmp/ea.safetensors" || fail "--erase 0 differs from --augment alone"
"$TRAIN" "${ARGS[@]}" --seed 3 --erase 1 --out "$tmp/e3.safetensors" 2>"$tmp/err" ||
    fail "--erase alone: $(tail -n 1 "$tmp/err")"
"$TRAIN" "${ARGS[@]}" --erase 1.5 --out "$tmp/ex.safetensors" 2>"$tmp/err"
[ $? -eq 2 ] || fail "--erase 1.5: not a usage error"
grep -q -- '--erase' "$tmp/err" || fail "bad --erase message: $(cat "$tmp/err")"

# --teacher/--distill: at --distill 0 the soft targets are the labels, so the
# model is the plain run's byte for byte; at 0.5 the teacher moves the loss.
# A teacher of other classes, --distill without a teacher or out of 0..1, and
# --teacher with --class-weight are refused.
"$MAKE_MODEL" --write "$tmp/teacher7.safetensors" 7 5 || fail "writing a teacher"
"$TRAIN" "${ARGS[@]}" --seed 5 --out "$tmp/plain.safetensors" --log "$tmp/plain.csv" 2>"$tmp/err" ||
    fail "plain run: $(tail -n 1 "$tmp/err")"
"$TRAIN" "${ARGS[@]}" --seed 5 --teacher "$tmp/teacher7.safetensors" --distill 0 \
    --out "$tmp/d0.safetensors" 2>"$tmp/err" || fail "--distill 0: $(tail -n 1 "$tmp/err")"
cmp -s "$tmp/plain.safetensors" "$tmp/d0.safetensors" || fail "--distill 0 differs from plain training"
"$TRAIN" "${ARGS[@]}" --seed 5 --teacher "$tmp/teacher7.safetensors" --teacher "$tmp/a.safetensors" \
    --out "$tmp/d5.safetensors" --log "$tmp/d5.csv" 2>"$tmp/err" || fail "--teacher x2: $(tail -n 1 "$tmp/err")"
[ "$(awk -F, 'NR == 2 { print $2 }' "$tmp/plain.csv")" != "$(awk -F, 'NR == 2 { print $2 }' "$tmp/d5.csv")" ] ||
    fail "two teachers at --distill 0.5 leave the training loss as it was"
"$TRAIN" "${ARGS[@]}" --teacher "$tmp/m5.safetensors" --out "$tmp/dx.safetensors" 2>"$tmp/err"
[ $? -eq 1 ] || fail "a 5-class teacher for 7 classes: not exit 1"
grep -q "m5.safetensors: the model's classes differ" "$tmp/err" || fail "teacher class message: $(cat "$tmp/err")"
for bad in "--distill 0.3" "--teacher $tmp/teacher7.safetensors --distill 1.5" \
    "--teacher $tmp/teacher7.safetensors --class-weight balanced"; do
    # shellcheck disable=SC2086 # $bad is several words
    "$TRAIN" "${ARGS[@]}" $bad --out "$tmp/dx.safetensors" 2>"$tmp/err"
    [ $? -eq 2 ] || fail "$bad: not a usage error"
done
[ ! -e "$tmp/dx.safetensors" ] || fail "a refused run wrote its output"

# --soft-targets: the teacher's probabilities written once by fer-eval --probs
# (no augmentation, as these runs have none) train the model as the live
# teacher does, to the file's six digits; a file of other images (a changed
# hash), one lacking a training image or with an impossible value or a row
# twice, and --soft-targets with --teacher are refused, naming the file.
EVAL="$BUILD/bin/fer-eval"
"$EVAL" --weights "$tmp/teacher7.safetensors" --data "$SAMPLE" --usage all --tta=none \
    --probs "$tmp/t7.csv" >/dev/null 2>"$tmp/err" || fail "fer-eval --probs: $(tail -n 1 "$tmp/err")"
[ "$(head -n 1 "$tmp/t7.csv")" = "row,hash,angry,disgust,fear,happy,sad,surprise,neutral" ] ||
    fail "--probs header: $(head -n 1 "$tmp/t7.csv")"
[ "$(wc -l <"$tmp/t7.csv")" -eq 22 ] || fail "--probs: not 21 images and a header"
"$TRAIN" "${ARGS[@]}" --seed 5 --teacher "$tmp/teacher7.safetensors" --out "$tmp/dt.safetensors" \
    --log "$tmp/dt.csv" 2>"$tmp/err" || fail "--teacher: $(tail -n 1 "$tmp/err")"
"$TRAIN" "${ARGS[@]}" --seed 5 --soft-targets "$tmp/t7.csv" --out "$tmp/ds.safetensors" \
    --log "$tmp/ds.csv" 2>"$tmp/err" || fail "--soft-targets: $(tail -n 1 "$tmp/err")"
lt=$(awk -F, 'NR == 2 { print $2 }' "$tmp/dt.csv") ls=$(awk -F, 'NR == 2 { print $2 }' "$tmp/ds.csv")
lp=$(awk -F, 'NR == 2 { print $2 }' "$tmp/plain.csv")
awk -v a="$lt" -v b="$ls" 'BEGIN { d = a - b; exit !(d < 1e-5 && d > -1e-5) }' ||
    fail "--soft-targets training loss $ls, the live teacher's $lt"
awk -v a="$lp" -v b="$ls" 'BEGIN { d = a - b; exit !(d > 1e-4 || d < -1e-4) }' ||
    fail "--soft-targets gave the plain run's loss ($lp): the check cannot tell"
/usr/bin/python3 - "$tmp/t7.csv" "$tmp" <<'EOF'
import sys
lines = open(sys.argv[1]).read().splitlines()
def put(name, ls):
    open(f"{sys.argv[2]}/{name}.csv", "w").write("\n".join(ls) + "\n")
f = lines[1].split(",")
put("s-hash", [lines[0], ",".join(f[:1] + ["%08x" % (int(f[1], 16) ^ 1)] + f[2:])] + lines[2:])
put("s-missing", lines[:1] + lines[2:])
put("s-value", [lines[0], ",".join(f[:2] + ["1.5"] + f[3:])] + lines[2:])
put("s-twice", lines + lines[1:2])
EOF
for bad in hash missing value twice; do
    "$TRAIN" "${ARGS[@]}" --soft-targets "$tmp/s-$bad.csv" --out "$tmp/dx.safetensors" 2>"$tmp/err"
    [ $? -eq 1 ] || fail "--soft-targets s-$bad.csv: not exit 1"
    [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q "s-$bad.csv" "$tmp/err" ||
        fail "--soft-targets s-$bad.csv message: $(cat "$tmp/err")"
done
grep -q "s-twice.csv:23: row 0 a second time" "$tmp/err" || fail "a row twice: $(cat "$tmp/err")"
"$TRAIN" "${ARGS[@]}" --soft-targets "$tmp/t7.csv" --teacher "$tmp/teacher7.safetensors" \
    --out "$tmp/dx.safetensors" 2>"$tmp/err"
[ $? -eq 2 ] || fail "--soft-targets with --teacher: not a usage error"
[ ! -e "$tmp/dx.safetensors" ] || fail "a refused --soft-targets run wrote its output"

# --val-tta: the validation accuracy is fer-eval's (which predicts through
# the tools' call) on the saved model, with the same augmentation; =none is
# the default; a bad value is a usage error naming it.
for t in flip zoom pair none; do
    "$TRAIN" "${ARGS[@]}" --seed 4 --val-tta=$t --out "$tmp/tta-$t.safetensors" \
        --log "$tmp/tta-$t.csv" 2>"$tmp/err" || fail "--val-tta=$t: $(tail -n 1 "$tmp/err")"
    acc=$("$BUILD/bin/fer-eval" --weights "$tmp/tta-$t.safetensors" --data "$SAMPLE" --tta=$t \
        --json 2>"$tmp/err" | sed 's/.*"accuracy":\([0-9.e-]*\).*/\1/')
    val=$(awk -F, 'NR == 2 { print $5 }' "$tmp/tta-$t.csv")
    awk -v a="$acc" -v b="$val" 'BEGIN { d = a - b; exit !(a != "" && d < 1e-6 && d > -1e-6) }' ||
        fail "--val-tta=$t: validation accuracy $val, fer-eval --tta=$t says $acc"
done
"$TRAIN" "${ARGS[@]}" --seed 4 --out "$tmp/tta-default.safetensors" --log "$tmp/tta-default.csv" \
    2>"$tmp/err" || fail "run without --val-tta: $(tail -n 1 "$tmp/err")"
[ "$(val_loss "$tmp/tta-none.csv")" = "$(val_loss "$tmp/tta-default.csv")" ] ||
    fail "--val-tta=none differs from the default"
[ "$(val_loss "$tmp/tta-none.csv")" != "$(val_loss "$tmp/tta-flip.csv")" ] ||
    fail "--val-tta=flip gives the unaugmented validation loss: the check cannot tell"
"$TRAIN" "${ARGS[@]}" --val-tta=mirror 2>"$tmp/err"
[ $? -eq 2 ] || fail "--val-tta=mirror: not a usage error"
grep -q 'mirror' "$tmp/err" || fail "bad --val-tta message: $(cat "$tmp/err")"

# --arch: a small network of its own on class folders with names of their
# own (a face/non-face verifier); the model file has that architecture and
# those classes. A bad architecture file or a mismatched --classes is refused.
mkdir -p "$tmp/dir/face" "$tmp/dir/nonface"
for i in 1 2 3 4 5 6; do
    { printf 'P5\n48 48\n255\n'; head -c 2304 /dev/urandom; } >"$tmp/dir/face/$i.pgm"
    { printf 'P5\n48 48\n255\n'; head -c 2304 /dev/zero | tr '\0' "\\$((100 + i))"; } >"$tmp/dir/nonface/$i.pgm"
done
cat >"$tmp/arch.json" <<'JSON'
{"input":[1,48,48],"classes":["face","nonface"],"layers":[
 {"type":"conv2d","filters":4,"kernel":3,"padding":"same","activation":"relu"},
 {"type":"maxpool2d","size":4,"stride":4},{"type":"flatten"},
 {"type":"dense","units":2,"activation":"softmax"}]}
JSON
DARGS=(--data "$tmp/dir" --epochs 1 --batch 4 --threads 1 --quiet --val-split 0.34)
"$TRAIN" "${DARGS[@]}" --arch "$tmp/arch.json" --out "$tmp/v.safetensors" 2>"$tmp/err" ||
    fail "--arch: $(tail -n 1 "$tmp/err")"
grep -q "fer-train: 8 training, 4 validation images, 2 classes, 1194 parameters" "$tmp/err" ||
    fail "--arch summary: $(cat "$tmp/err")"
head -c 2000 "$tmp/v.safetensors" | grep -q '"classes":"face,nonface"' || fail "--arch classes not saved"
"$TRAIN" "${DARGS[@]}" --arch "$tmp/arch.json" --classes nonface,face --out "$tmp/w.safetensors" \
    2>"$tmp/err" && fail "--arch with other --classes succeeded"
grep -q "arch.json: the model's classes differ from --classes" "$tmp/err" || fail "--arch/--classes message: $(cat "$tmp/err")"
printf '{"input":[1,48,48],"classes":["a","b"],"layers":[{"type":"conv9"}]}' >"$tmp/bad.json"
"$TRAIN" "${DARGS[@]}" --arch "$tmp/bad.json" --out "$tmp/w.safetensors" 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "^fer-train: .*bad.json: " "$tmp/err" || fail "bad --arch: $(cat "$tmp/err")"
"$TRAIN" "${ARGS[@]}" --arch "$tmp/arch.json" --out "$tmp/w.safetensors" 2>"$tmp/err"
[ $? -eq 2 ] && grep -q 'class "face" is not a FER2013 emotion' "$tmp/err" || fail "--arch on a CSV: $(cat "$tmp/err")"
"$TRAIN" "${ARGS[@]}" --arch "$tmp/arch.json" --init "$tmp/a.safetensors" 2>"$tmp/err"
[ $? -eq 2 ] || fail "--arch with --init: not a usage error"
[ ! -e "$tmp/w.safetensors" ] || fail "a refused --arch run wrote its output"

[ "$fails" -eq 0 ] && echo "train-options.sh: --init, --augment=LIST and --arch behave"
exit $((fails > 0))
