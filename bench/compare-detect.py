#!/usr/bin/python3
"""Times OpenCV's detectMultiScale (one thread) against fer-bench detect.

usage: compare-detect.py --ours OURS.json [--iters N]
OURS.json is the output of `fer-bench detect --json`; the same photo,
cascade and settings are run through cv2.CascadeClassifier with
cv2.setNumThreads(1), timed in thread CPU time (median of N runs), and the
ratio ours/OpenCV is printed (below 1: ours is faster).
"""
import argparse
import json
import statistics
import sys
import time

import cv2


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ours", required=True)
    ap.add_argument("--iters", type=int, default=20)
    a = ap.parse_args()
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


if __name__ == "__main__":
    sys.exit(main())
