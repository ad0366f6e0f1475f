#!/usr/bin/python3
"""Frames for fer-live's test video: one FER2013 face pasted onto a real background.

usage: make_live_video.py FER2013_CSV OUT_DIR FPS ROW_A SECONDS_A ROW_B SECONDS_B
Face ROW_A of the CSV (0 = the first data row) for SECONDS_A, then face ROW_B
for SECONDS_B, upscaled (cubic) to 200 px and pasted onto a face-free photo
from Debian's opencv-doc (resized to 640x480), drifting a few pixels, with
Gaussian sensor noise (sigma 3, fixed seed). Writes OUT_DIR/frame_NNNN.png,
which tests/sh/live.sh encodes with ffmpeg. numpy and cv2 only build the
images. Exits with 77 when an input is missing.
"""
import csv
import math
import os
import sys

try:
    import cv2
    import numpy as np
except ImportError:
    print("make_live_video.py: python3-opencv/numpy missing", file=sys.stderr)
    sys.exit(77)

BACKGROUND = "/usr/share/doc/opencv-doc/examples/data/building.jpg"


def main(argv):
    if len(argv) != 8:
        print(__doc__, file=sys.stderr)
        return 2
    path, out, fps = argv[1], argv[2], int(argv[3])
    row_a, sec_a, row_b, sec_b = int(argv[4]), float(argv[5]), int(argv[6]), float(argv[7])
    if not os.path.exists(path) or not os.path.exists(BACKGROUND):
        print("make_live_video.py: FER2013 CSV or background photo missing", file=sys.stderr)
        return 77
    with open(path) as f:
        rows = list(csv.reader(f))[1:]
    faces = [np.array(rows[r][1].split(), np.uint8).reshape(48, 48) for r in (row_a, row_b)]
    faces = [cv2.resize(f, (200, 200), interpolation=cv2.INTER_CUBIC) for f in faces]
    back = cv2.resize(cv2.imread(BACKGROUND), (640, 480), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(1)
    os.makedirs(out, exist_ok=True)
    n = int(round((sec_a + sec_b) * fps))
    for i in range(n):
        t = i / fps
        face = faces[0] if t < sec_a else faces[1]
        x = 220 + int(round(8 * math.sin(t * 1.3)))
        y = 140 + int(round(5 * math.sin(t * 0.9)))
        img = back.copy()
        img[y:y + 200, x:x + 200] = cv2.cvtColor(face, cv2.COLOR_GRAY2BGR)
        noisy = img.astype(np.float32) + rng.normal(0, 3, img.shape)
        cv2.imwrite(os.path.join(out, f"frame_{i:04d}.png"), np.clip(noisy, 0, 255).astype(np.uint8))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
