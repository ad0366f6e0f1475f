#!/usr/bin/env bash
# Crash-safe training (issue 7, docs/hardening.md): fer-train is killed with
# SIGKILL in the middle of an epoch, after its first checkpoint; `--resume`
# from that checkpoint must end with exactly the weights, Adam moments, RNG
# state and metrics of an uninterrupted run with the same seed and thread
# count. Also: no output is ever half-written (files are written to a
# temporary name and renamed), so every file present after the kill loads.
set -u
BUILD=${BUILD:-build}
TRAIN="$BUILD/bin/fer-train"
PY=/usr/bin/python3
tmp=$(mktemp -d /tmp/crash-resume.XXXXXX)
pid=
cleanup() {
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "crash-resume.sh: FAIL: $*"; exit 1; }
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'; }
[ -x "$TRAIN" ] || fail "$TRAIN not built"

# Data: the committed sample's Training rows 8 times over (112 images, 7
# batches of 16 per epoch: an epoch takes about a second, so there is a
# "middle" to kill in), validated on its PublicTest rows. Sanitizer builds
# train about 5 times slower: 3 times over is enough there.
SAMPLE=tests/data/fer2013-sample.csv
copies=8
grep -q __asan_init "$TRAIN" && copies=3
{
    head -n 1 "$SAMPLE"
    for _ in $(seq "$copies"); do grep ',Training' "$SAMPLE"; done
    grep ',PublicTest' "$SAMPLE"
} >"$tmp/data.csv"
EPOCHS=3
ARGS=(--data "$tmp/data.csv" --epochs "$EPOCHS" --batch 16 --seed 11 --threads 2 --augment --quiet)

# 1. The uninterrupted reference run.
t0=$(date +%s.%N)
"$TRAIN" "${ARGS[@]}" --out "$tmp/ref.safetensors" --log "$tmp/ref.csv" --plot "$tmp/ref.svg" 2>"$tmp/ref.err" || fail "reference run: $(tail -n 2 "$tmp/ref.err")"
ref_s=$(since "$t0")

# 2. The same run, killed half an epoch after its first checkpoint appears.
OUTS=(--out "$tmp/run.safetensors" --log "$tmp/run.csv" --plot "$tmp/run.svg")
"$TRAIN" "${ARGS[@]}" "${OUTS[@]}" 2>"$tmp/run.err" &
pid=$!
t0=$(date +%s.%N)
while [ ! -e "$tmp/run.safetensors.ckpt" ]; do
    kill -0 "$pid" 2>/dev/null || fail "the run ended before its first checkpoint: $(tail -n 2 "$tmp/run.err")"
    sleep 0.05
done
first_s=$(since "$t0")
# One epoch lasts about (reference time) / EPOCHS; sleep half of that.
sleep "$(awk -v t="$ref_s" -v e="$EPOCHS" 'BEGIN { printf "%.3f", t / e / 2 }')"
kill -0 "$pid" 2>/dev/null || fail "the run finished before it could be killed (epochs too short?)"
kill -9 "$pid"
wait "$pid" 2>/dev/null
pid=

# 3. What the kill left behind must be whole; resume from it.
"$PY" - "$tmp/run.safetensors.ckpt" "$EPOCHS" <<'EOF' || fail "the checkpoint left by the kill is not a mid-run checkpoint"
import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
end = max(v["data_offsets"][1] for k, v in h.items() if k != "__metadata__")
assert len(b) == 8 + n + end, "truncated"
epoch = json.loads(h["__metadata__"]["fer.extra"])["epoch"]
assert 1 <= epoch < int(sys.argv[2]), epoch
print("crash-resume.sh: killed after epoch %d's checkpoint" % epoch)
EOF
for f in run.csv run.svg; do # whole or absent, never cut short
    [ ! -e "$tmp/$f" ] || [ "$(tail -c 1 "$tmp/$f" | od -An -c | tr -d ' ')" = '\n' ] ||
        fail "$f was left half-written by the kill"
done
[ ! -e "$tmp/run.svg" ] || tail -n 1 "$tmp/run.svg" | grep -q '</svg>' || fail "run.svg is cut short"
"$TRAIN" "${ARGS[@]}" "${OUTS[@]}" --resume "$tmp/run.safetensors.ckpt" \
    2>"$tmp/resume.err" || fail "resume: $(tail -n 2 "$tmp/resume.err")"

# 4. Final checkpoints and best models: every tensor bit-identical, and the
# optimiser, RNG and metric history equal (timings excepted).
"$PY" - "$tmp" <<'EOF' || fail "the resumed run differs from the uninterrupted one"
import json, struct, sys
d = sys.argv[1]
def load(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    md = h.pop("__metadata__")
    data = b[8 + n:]
    return md, {k: (v["shape"], data[v["data_offsets"][0]:v["data_offsets"][1]]) for k, v in h.items()}
for name in ("safetensors.ckpt", "safetensors"):
    ma, ta = load(f"{d}/ref.{name}")
    mb, tb = load(f"{d}/run.{name}")
    assert ta.keys() == tb.keys(), (name, ta.keys() ^ tb.keys())
    diff = [k for k in ta if ta[k] != tb[k]]
    assert not diff, f"{name}: tensors differ: {diff[:5]}"
    for k in ("adam.iterations", "adam.lr", "arch"):
        assert ma.get(k) == mb.get(k), (name, k, ma.get(k), mb.get(k))
    if "fer.extra" in ma:
        ea, eb = json.loads(ma["fer.extra"]), json.loads(mb["fer.extra"])
        for k in ("epoch", "rng", "best_val_acc", "best_val_loss"):
            assert ea[k] == eb[k], (k, ea[k], eb[k])
        # history rows: loss, acc, val_loss, val_acc, lr, then seconds and img/s
        assert [r[:5] for r in ea["history"]] == [r[:5] for r in eb["history"]], "history"
    print(f"crash-resume.sh: {name}: {len(ta)} tensors bit-identical")
EOF
# The metrics log: same rows as the reference's but for the timing columns.
cut -d, -f1-6 "$tmp/ref.csv" >"$tmp/ref.cut"
cut -d, -f1-6 "$tmp/run.csv" >"$tmp/run.cut"
cmp -s "$tmp/ref.cut" "$tmp/run.cut" || fail "the resumed run's --log differs: $(diff "$tmp/ref.cut" "$tmp/run.cut" | head -n 4)"
[ "$(wc -l <"$tmp/run.csv")" -eq $((EPOCHS + 1)) ] || fail "the resumed --log does not have $EPOCHS rows"
leftover=$(find "$tmp" -name '.*.tmp-*' | wc -l)
echo "crash-resume.sh: reference ${ref_s}s, first checkpoint after ${first_s}s, $leftover temporary file(s) left by the kill"
