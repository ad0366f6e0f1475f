#!/usr/bin/python3
"""Face detection on real photos: libfer, OpenCV's Haar cascade and dlib's HOG
detector scored against hand-made boxes (bench/faces/README.md).

  bench/faces/score.py [--photos DIR] [--truth CSV] [--json] [--verbose]
                       [--libfer-args "--min-score 0.5"] [--detectors libfer,opencv,dlib]

For every photo of truth.csv:
  libfer   `fer-predict --json PHOTO` (one process per photo, FER_THREADS=1
           unless set); its boxes are all "faces"; the state's face is
           faces[state["face"]] (faces[0] when the key is absent, none when
           "state" is null). Exit status 1 (no face) is not an error.
  opencv   cv2.CascadeClassifier(haarcascade_frontalface_default.xml)
           .detectMultiScale(grey, 1.1, 3, minSize=(30, 30)), one thread;
           the state's face is the largest box.
  dlib     build/bench/dlib_hog (get_frontal_face_detector, upsampled once);
           the state's face is the largest box.

Matching: per photo, detection/truth pairs with IoU >= 0.4 (--iou) are taken
greedily, highest IoU first, each box used once. A detection matched to any
truth face (hard ones included) is a true positive, any other a false
positive. Recall is given over the faces that are not hard (frontal-ish,
unoccluded, at least 40 px wide: the target set) and over all faces.
"state from a real face": photos with a face whose state face has IoU >= 0.4
with some truth face. "no state on no-people photos": photos without a face
where the detector reports nothing (libfer: no face and a null state).
Times, per photo, as CPU time (the figure that stays put on a loaded machine)
and wall clock: opencv and dlib time the detection only, on one thread (the
first OpenCV call is a warm-up); libfer is the whole fer-predict process
(decode, model loading, detection, CNNs; its CPU time from getrusage), and,
when its JSON carries "ms", that too.
"""
import argparse
import csv
import json
import os
import resource
import shlex
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CASCADE = "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml"
NAMES = {"libfer": "libfer", "opencv": "OpenCV Haar", "dlib": "dlib HOG"}


def fail(msg):
    print(f"score.py: {msg}", file=sys.stderr)
    sys.exit(1)


class DetectorError(Exception):
    """A detector could not be run; the others are still scored."""


def read_truth(path):
    """{photo: [(box, hard), ...]} in file order; photos without a face map to []."""
    truth = {}
    with open(path, newline="") as f:
        for i, row in enumerate(csv.reader(f), 1):
            if not row or row[0].startswith("#") or (i == 1 and row[0] == "photo"):
                continue
            photo, vals = row[0], [v.strip() for v in row[1:]]
            faces = truth.setdefault(photo, [])
            if not any(vals[:4]):
                continue
            try:
                box = [int(v) for v in vals[:4]]
                hard = len(vals) > 4 and vals[4] not in ("", "0")
            except ValueError:
                fail(f"{path}:{i}: bad row {row}")
            if box[2] <= 0 or box[3] <= 0:
                fail(f"{path}:{i}: empty box {row}")
            faces.append((box, hard))
    return truth


def iou(a, b):
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0, x2 - x1) * max(0, y2 - y1)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def match(dets, truth, thr):
    """Greedy matching: list of the truth index each detection got (or None)."""
    pairs = sorted(((iou(d, t[0]), i, j) for i, d in enumerate(dets)
                    for j, t in enumerate(truth)), key=lambda p: (-p[0], p[1], p[2]))
    got, used = [None] * len(dets), set()
    for v, i, j in pairs:
        if v < thr:
            break
        if got[i] is None and j not in used:
            got[i] = j
            used.add(j)
    return got


# ------------------------------------------------------------- detectors

def run_libfer(paths, a):
    exe = a.fer_predict
    if not os.access(exe, os.X_OK):
        raise DetectorError(f"{exe} not found: run `make {os.path.relpath(exe, ROOT)}`")
    env = dict(os.environ)
    env.setdefault("FER_THREADS", "1")
    extra = shlex.split(a.libfer_args)
    out = {}
    for p in paths:
        u0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        r = subprocess.run([exe, "--json", *extra, p], capture_output=True, text=True, env=env)
        wall = (time.perf_counter() - t0) * 1e3
        u1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (u1.ru_utime - u0.ru_utime + u1.ru_stime - u0.ru_stime) * 1e3
        line = next((l for l in r.stdout.splitlines() if l.startswith("{")), None)
        if line is None:
            if r.returncode == 1 and "no face" in r.stderr.lower():
                obj = {"faces": [], "state": None}
            else:
                raise DetectorError(f"fer-predict {p} exited {r.returncode} without JSON: "
                                    f"{r.stderr.strip()}")
        else:
            obj = json.loads(line)
        faces = obj.get("faces") or []
        boxes = [list(map(int, f["box"])) for f in faces]
        state, state_box = obj.get("state"), None
        if isinstance(state, dict) and boxes:
            k = state.get("face", 0)
            if isinstance(k, int) and 0 <= k < len(boxes):
                state_box = boxes[k]
        ms = obj.get("ms")
        out[p] = {"boxes": boxes, "state_box": state_box, "state": state is not None,
                  "ms": wall, "cpu_ms": cpu,
                  "own_ms": ms if isinstance(ms, (int, float)) else None,
                  "scores": [f.get("score") for f in faces]}
    return out


def largest(boxes):
    return max(boxes, key=lambda b: b[2] * b[3]) if boxes else None


def run_opencv(paths, a):
    import cv2
    cv2.setNumThreads(1)
    cc = cv2.CascadeClassifier(a.cascade)
    if cc.empty():
        raise DetectorError(f"cannot load {a.cascade} (install opencv-data)")
    out = {}
    for k, p in enumerate(paths):
        img = cv2.imread(p, cv2.IMREAD_COLOR)
        if img is None:
            raise DetectorError(f"OpenCV cannot read {p}")
        grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)

        def detect():
            return cc.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=3, minSize=(30, 30))

        if k == 0:
            detect()  # warm-up: the first call sets OpenCV up
        c0, t0 = time.thread_time(), time.perf_counter()
        found = detect()
        ms, cpu = (time.perf_counter() - t0) * 1e3, (time.thread_time() - c0) * 1e3
        boxes = [list(map(int, b)) for b in found]
        out[p] = {"boxes": boxes, "state_box": largest(boxes), "state": bool(boxes),
                  "ms": ms, "cpu_ms": cpu}
    return out


def run_dlib(paths, a):
    exe = a.dlib
    if not os.access(exe, os.X_OK):
        raise DetectorError(f"{exe} not found: run `make {os.path.relpath(exe, ROOT)}` "
                            "(needs libdlib-dev)")
    r = subprocess.run([exe, *paths], capture_output=True, text=True)
    out = {}
    for line in r.stdout.splitlines():
        obj = json.loads(line)
        if "error" in obj:
            raise DetectorError(f"dlib_hog: {obj['photo']}: {obj['error']}")
        boxes = [list(map(int, b)) for b in obj["boxes"]]
        out[obj["photo"]] = {"boxes": boxes, "state_box": largest(boxes),
                             "state": bool(boxes), "ms": obj["ms"],
                             "cpu_ms": obj.get("cpu_ms", obj["ms"])}
    missing = [p for p in paths if p not in out]
    if missing:
        raise DetectorError(f"dlib_hog exited {r.returncode} without a result for {missing[0]}: "
                            f"{r.stderr.strip()}")
    return out


RUNNERS = {"libfer": run_libfer, "opencv": run_opencv, "dlib": run_dlib}


# ---------------------------------------------------------------- scoring

def score(truth, paths, res, thr):
    tot = dict(tp=0, fp=0, hit_easy=0, n_easy=0, hit_all=0, n_all=0,
               state_ok=0, face_photos=0, clean=0, empty_photos=0)
    per = []
    for photo, path in paths.items():
        faces, r = truth[photo], res[path]
        got = match(r["boxes"], faces, thr)
        hit = {j for j in got if j is not None}
        fp = sum(1 for j in got if j is None)
        easy = [j for j, (_, hard) in enumerate(faces) if not hard]
        row = {"photo": photo, "detections": len(r["boxes"]), "tp": len(hit), "fp": fp,
               "faces": len(faces), "easy": len(easy),
               "missed_easy": [faces[j][0] for j in easy if j not in hit],
               "missed_hard": [faces[j][0] for j, (_, h) in enumerate(faces) if h and j not in hit],
               "false_positives": [b for b, j in zip(r["boxes"], got) if j is None],
               "ms": round(r["ms"], 2), "cpu_ms": round(r["cpu_ms"], 2),
               "boxes": r["boxes"], "state_box": r["state_box"]}
        if r.get("own_ms") is not None:
            row["own_ms"] = r["own_ms"]
        tot["tp"] += len(hit)
        tot["fp"] += fp
        tot["n_easy"] += len(easy)
        tot["hit_easy"] += sum(1 for j in easy if j in hit)
        tot["n_all"] += len(faces)
        tot["hit_all"] += len(hit)
        if faces:
            tot["face_photos"] += 1
            sb = r["state_box"]
            ok = sb is not None and any(iou(sb, b) >= thr for b, _ in faces)
            tot["state_ok"] += ok
            row["state"] = "real face" if ok else ("none" if sb is None else "not a face")
        else:
            tot["empty_photos"] += 1
            clean = not r["boxes"] and not r["state"]
            tot["clean"] += clean
            row["state"] = "none" if not r["state"] else "reported"
        per.append(row)
    ms = [res[p]["ms"] for p in paths.values()]
    cpu = [res[p]["cpu_ms"] for p in paths.values()]
    own = [res[p]["own_ms"] for p in paths.values() if res[p].get("own_ms") is not None]
    det = tot["tp"] + tot["fp"]

    def ratio(n, d):
        return round(n / d, 4) if d else None

    def median(v):
        return round(statistics.median(v), 2) if v else None

    return {
        "precision": ratio(tot["tp"], det),
        "recall": ratio(tot["hit_easy"], tot["n_easy"]),
        "recall_all": ratio(tot["hit_all"], tot["n_all"]),
        "state_from_real_face": ratio(tot["state_ok"], tot["face_photos"]),
        "no_state_no_people": ratio(tot["clean"], tot["empty_photos"]),
        "median_ms": median(ms),
        "median_cpu_ms": median(cpu),
        "median_own_ms": median(own),
        "counts": tot,
        "photos": per,
    }


def fmt(v, num=None, den=None):
    s = "-" if v is None else f"{v:.2f}"
    return s if num is None else f"{s} ({num}/{den})"


def print_table(summary, dets, truth_info, a):
    rows = [
        ("precision", lambda s: fmt(s["precision"], s["counts"]["tp"],
                                   s["counts"]["tp"] + s["counts"]["fp"])),
        ("recall, faces >= 40 px not hard", lambda s: fmt(s["recall"], s["counts"]["hit_easy"],
                                                          s["counts"]["n_easy"])),
        ("recall, all faces", lambda s: fmt(s["recall_all"], s["counts"]["hit_all"],
                                           s["counts"]["n_all"])),
        ("state from a real face", lambda s: fmt(s["state_from_real_face"], s["counts"]["state_ok"],
                                                s["counts"]["face_photos"])),
        ("no state on no-people photos", lambda s: fmt(s["no_state_no_people"], s["counts"]["clean"],
                                                      s["counts"]["empty_photos"])),
        ("median CPU ms per photo", lambda s: "-" if s["median_cpu_ms"] is None
         else f"{s['median_cpu_ms']:.1f}"),
        ("median wall ms per photo", lambda s: "-" if s["median_ms"] is None
         else f"{s['median_ms']:.1f}"),
    ]
    if any(summary[d]["median_own_ms"] is not None for d in dets):
        rows.append(("median ms (fer-predict's own)",
                     lambda s: "-" if s["median_own_ms"] is None else f"{s['median_own_ms']:.1f}"))
    w0 = max(len(r[0]) for r in rows)
    cells = {d: [f(summary[d]) for _, f in rows] for d in dets}
    ws = {d: max(len(NAMES[d]), *(len(c) for c in cells[d])) for d in dets}
    print(f"{truth_info['photos']} photos ({truth_info['face_photos']} with faces, "
          f"{truth_info['empty_photos']} without people), {truth_info['faces']} faces "
          f"({truth_info['easy']} not hard), IoU >= {a.iou}")
    print("  ".join([f"{'':<{w0}}"] + [f"{NAMES[d]:>{ws[d]}}" for d in dets]))
    for i, (name, _) in enumerate(rows):
        print("  ".join([f"{name:<{w0}}"] + [f"{cells[d][i]:>{ws[d]}}" for d in dets]))
    if "libfer" in dets:
        print("ms: OpenCV and dlib time detection only (one thread); libfer is the whole "
              "fer-predict process (FER_THREADS=" + os.environ.get("FER_THREADS", "1") + ")"
              + (f", args: {a.libfer_args}" if a.libfer_args else ""))


def print_verbose(summary, dets):
    w = max((len(r["photo"]) for d in dets for r in summary[d]["photos"]), default=0)
    for d in dets:
        print(f"\n{NAMES[d]}: per photo (det = detections, fp = false positives, "
              "missed = faces not hard that were not found)")
        for r in summary[d]["photos"]:
            bits = [f"{r['photo']:<{w}}", f"faces {r['faces']}", f"det {r['detections']}",
                    f"tp {r['tp']}", f"fp {r['fp']}", f"state {r['state']:<10}", f"{r['cpu_ms']:7.1f} ms CPU"]
            notes = []
            if r["false_positives"]:
                notes.append("fp at " + " ".join(str(b) for b in r["false_positives"]))
            if r["missed_easy"]:
                notes.append("missed " + " ".join(str(b) for b in r["missed_easy"]))
            if r["missed_hard"]:
                notes.append("missed hard " + " ".join(str(b) for b in r["missed_hard"]))
            print("  ".join(bits) + ("  " + "; ".join(notes) if notes else ""))


COLOURS = {"libfer": (255, 0, 255), "opencv": (0, 200, 0), "dlib": (0, 0, 255)}


def draw(folder, truth, paths, summary, dets):
    """One PNG per photo: truth white (hard: grey), each detector in its colour
    (libfer magenta, OpenCV green, dlib red), its state face thicker."""
    import cv2
    os.makedirs(folder, exist_ok=True)
    rows = {d: {r["photo"]: r for r in summary[d]["photos"]} for d in dets}
    for photo, path in paths.items():
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        t = max(1, round(min(img.shape[:2]) / 300))
        for (x, y, w, h), hard in truth[photo]:
            cv2.rectangle(img, (x, y), (x + w, y + h), (150, 150, 150) if hard else (255, 255, 255),
                          2 * t)
        for d in dets:
            r = rows[d][photo]
            for b in r["boxes"]:
                x, y, w, h = b
                cv2.rectangle(img, (x, y), (x + w, y + h), COLOURS[d], 2 * t if b == r["state_box"] else t)
        cv2.imwrite(os.path.join(folder, os.path.splitext(photo)[0] + ".png"), img)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--photos", default=os.path.join(ROOT, "build/faces/photos"),
                    help="photo folder (bench/faces/fetch-photos makes it)")
    ap.add_argument("--truth", default=os.path.join(here, "truth.csv"))
    ap.add_argument("--fer-predict", default=os.path.join(ROOT, "build/bin/fer-predict"))
    ap.add_argument("--dlib", default=os.path.join(ROOT, "build/bench/dlib_hog"))
    ap.add_argument("--cascade", default=CASCADE)
    ap.add_argument("--libfer-args", default="", help="extra fer-predict arguments, one string")
    ap.add_argument("--detectors", default="libfer,opencv,dlib",
                    help="comma-separated subset of libfer,opencv,dlib")
    ap.add_argument("--iou", type=float, default=0.4, help="match threshold (0.4)")
    ap.add_argument("--photo", action="append", default=[],
                    help="score only this photo of the truth (repeatable)")
    ap.add_argument("--json", action="store_true", help="one JSON object instead of the table")
    ap.add_argument("--verbose", action="store_true", help="also list every photo")
    ap.add_argument("--draw", metavar="DIR",
                    help="write every photo with the truth and the detections drawn into DIR")
    a = ap.parse_args()

    dets = [d.strip() for d in a.detectors.split(",") if d.strip()]
    for d in dets:
        if d not in RUNNERS:
            fail(f"unknown detector {d!r} (libfer, opencv, dlib)")
    truth = read_truth(a.truth)
    if a.photo:
        unknown = [p for p in a.photo if p not in truth]
        if unknown:
            fail(f"{unknown[0]} is not in {a.truth}")
        truth = {p: truth[p] for p in a.photo}
    paths = {}
    for photo in truth:
        p = os.path.join(a.photos, photo)
        if not os.path.isfile(p):
            fail(f"{p} missing: run bench/faces/fetch-photos {a.photos}")
        paths[photo] = p
    info = {"photos": len(truth), "face_photos": sum(1 for f in truth.values() if f),
            "empty_photos": sum(1 for f in truth.values() if not f),
            "faces": sum(len(f) for f in truth.values()),
            "easy": sum(1 for f in truth.values() for _, h in f if not h)}

    summary, errors = {}, {}
    for d in dets:
        try:
            res = RUNNERS[d](list(paths.values()), a)
        except DetectorError as e:
            print(f"score.py: {NAMES[d]} left out: {e}", file=sys.stderr)
            errors[d] = str(e)
            continue
        summary[d] = score(truth, paths, res, a.iou)
    dets = [d for d in dets if d in summary]
    status = 1 if errors else 0
    if a.draw:
        draw(a.draw, truth, paths, summary, dets)

    if a.json:
        out = {"truth": info, "iou": a.iou, "libfer_args": a.libfer_args,
               "detectors": {d: {k: v for k, v in s.items() if a.verbose or k != "photos"}
                             for d, s in summary.items()}, "errors": errors}
        print(json.dumps(out, indent=1 if a.verbose else None))
        return status
    if dets:
        print_table(summary, dets, info, a)
    if a.verbose:
        print_verbose(summary, dets)
    return status


if __name__ == "__main__":
    sys.exit(main())
