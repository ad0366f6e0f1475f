#!/usr/bin/python3
"""Compares libfer's face detector with OpenCV's detectMultiScale.

Timing (one thread):
  compare-detect.py --ours OURS.json [--iters N]
OURS.json is the output of `fer-bench detect --json`; the same photo,
cascade and settings are run through cv2.CascadeClassifier with
cv2.setNumThreads(1), timed in thread CPU time (median of N runs), and the
ratio ours/OpenCV is printed (below 1: ours is faster).

The analyzer's whole detection against OpenCV's defaults (one thread):
  compare-detect.py --faces FACES.json [--iters N]
FACES.json is `fer-bench faces --json`; OpenCV runs detectMultiScale with
its default settings (scale 1.1, 3 neighbours, no minimum size) on the same
photo; prints the ratio ours/OpenCV (target: <= 1).

Resolution: compare-detect.py --resolution SMALL.json BIG.json
prints BIG's time over SMALL's (the same photo at 1920 and 8000 px wide;
target: <= 1.5).

Boxes, photo by photo:
  compare-detect.py --photos [--bench build/bench/fer-bench] [--cascade XML] IMAGE...
Each image is loaded in colour and converted to grey by OpenCV, written as
a lossless PNG (so both sides see the same pixels), and detected by both
(scale 1.1, 3 neighbours, min 30); prints the photos whose box lists differ
and a "same N, different M" summary. Exit status 1 if any differs.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import cv2

DEFAULT_CASCADE = "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml"


def timing(a):
    ours = json.load(open(a.ours))
    cv2.setNumThreads(1)
    cc = cv2.CascadeClassifier(ours["cascade"])
    grey = cv2.cvtColor(cv2.imread(ours["image"], cv2.IMREAD_COLOR), cv2.COLOR_BGR2GRAY)
    size = ours["min_size"]

    def run():
        return cc.detectMultiScale(grey, scaleFactor=ours["scale_factor"],
                                   minNeighbors=ours["min_neighbors"], minSize=(size, size))

    faces = run()
    times = []
    for _ in range(a.iters):
        t0 = time.thread_time()
        run()
        times.append(time.thread_time() - t0)
    cv_ms = statistics.median(times) * 1e3
    print(f"photo {ours['image']} ({ours['width']}x{ours['height']}), "
          f"scale {ours['scale_factor']}, neighbors {ours['min_neighbors']}, min size {size}")
    print(f"OpenCV {cv2.__version__} detectMultiScale: {cv_ms:.2f} ms, {len(faces)} faces")
    print(f"libfer fer_detect_faces:         {ours['median_ms']:.2f} ms, {ours['faces']} faces")
    print(f"ratio ours/OpenCV: {ours['median_ms'] / cv_ms:.2f}")
    return 0


def faces(a):
    ours = json.load(open(a.faces))
    cv2.setNumThreads(1)
    cc = cv2.CascadeClassifier(DEFAULT_CASCADE)
    grey = cv2.cvtColor(cv2.imread(ours["image"], cv2.IMREAD_COLOR), cv2.COLOR_BGR2GRAY)
    found = cc.detectMultiScale(grey)
    times = []
    for _ in range(a.iters):
        t0 = time.thread_time()
        cc.detectMultiScale(grey)
        times.append(time.thread_time() - t0)
    cv_ms = statistics.median(times) * 1e3
    print(f"photo {ours['image']} ({ours['width']}x{ours['height']})")
    print(f"OpenCV {cv2.__version__} detectMultiScale, default settings: {cv_ms:.2f} ms, "
          f"{len(found)} boxes")
    print(f"libfer fer_analyze (proposals upright and turned, verifier): {ours['median_ms']:.2f} ms, "
          f"{ours['faces']} faces")
    print(f"ratio ours/OpenCV: {ours['median_ms'] / cv_ms:.2f} (target <= 1)")
    return 0


def resolution(a):
    small, big = (json.load(open(p)) for p in a.resolution)
    print(f"fer_analyze on {small['image']} at {small['width']}x{small['height']}: "
          f"{small['median_ms']:.2f} ms, {small['faces']} faces; at {big['width']}x{big['height']}: "
          f"{big['median_ms']:.2f} ms, {big['faces']} faces")
    print(f"ratio {big['width']}/{small['width']} px: {big['median_ms'] / small['median_ms']:.2f} "
          f"(target <= 1.5)")
    return 0


def photos(a):
    cv2.setNumThreads(1)
    cc = cv2.CascadeClassifier(a.cascade)
    same = diff = 0
    with tempfile.TemporaryDirectory() as tmp:
        png = os.path.join(tmp, "grey.png")
        for path in a.images:
            img = cv2.imread(path, cv2.IMREAD_COLOR)
            if img is None:
                continue
            grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
            cv2.imwrite(png, grey)
            ref = sorted(tuple(int(v) for v in r)
                         for r in cc.detectMultiScale(grey, 1.1, 3, minSize=(30, 30)))
            out = subprocess.run([a.bench, "detect", "--image", png, "--cascade", a.cascade,
                                  "--iters", "1", "--boxes"], capture_output=True, text=True,
                                 check=True).stdout
            ours = sorted(tuple(map(int, line.split()[1:])) for line in out.splitlines()
                          if line.startswith("box "))
            if ours == ref:
                same += 1
            else:
                diff += 1
                print(f"{path}: OpenCV {ref} ours {ours}")
    print(f"{os.path.basename(a.cascade)}: same {same}, different {diff}")
    return 1 if diff else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ours")
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--photos", action="store_true")
    ap.add_argument("--faces")
    ap.add_argument("--resolution", nargs=2)
    ap.add_argument("--bench", default="build/bench/fer-bench")
    ap.add_argument("--cascade", default=DEFAULT_CASCADE)
    ap.add_argument("images", nargs="*")
    a = ap.parse_args()
    if a.photos:
        return photos(a)
    if a.faces:
        return faces(a)
    if a.resolution:
        return resolution(a)
    if not a.ours:
        ap.error("--ours or --photos is required")
    return timing(a)


if __name__ == "__main__":
    sys.exit(main())
