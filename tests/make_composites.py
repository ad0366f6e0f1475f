#!/usr/bin/python3
"""Composite test photos: FER2013 faces pasted onto real backgrounds.

usage: make_composites.py FER2013_CSV_GZ OUT_DIR [N_IMAGES] [SEED]
Takes the first PublicTest faces of the FER2013 CSV, upscales them (cubic)
to random sizes between 90 and 220 px and pastes one or two per image, at
random non-overlapping places, onto face-free background photos from
Debian's opencv-doc (resized to 640x480). Writes OUT_DIR/composite_NN.png
and OUT_DIR/truth.csv (file,x,y,w,h,emotion). numpy and cv2 are used only
to build and write the images. Exits with 77 when an input is missing.
"""
import gzip
import os
import sys

try:
    import cv2
    import numpy as np
except ImportError:
    print("make_composites.py: python3-opencv/numpy missing", file=sys.stderr)
    sys.exit(77)

DATA = "/usr/share/doc/opencv-doc/examples/data"
# Checked to contain no face for OpenCV's or our frontal face detector.
BACKGROUNDS = ["building.jpg", "home.jpg", "fruits.jpg", "stuff.jpg", "orange.jpg",
               "aero1.jpg", "board.jpg", "graf1.png", "box_in_scene.png"]


def public_test_faces(path, n):
    """The first n PublicTest rows as (emotion, 48x48 uint8); stops reading early."""
    faces = []
    with gzip.open(path, "rt") as f:
        next(f)
        for line in f:
            if not line.rstrip().endswith("PublicTest"):
                continue
            emotion, pixels, _ = line.rstrip().split(",")
            faces.append((int(emotion), np.array(pixels.split(), np.uint8).reshape(48, 48)))
            if len(faces) == n:
                break
    return faces


def overlaps(a, b, margin=10):
    return not (a[0] + a[2] + margin <= b[0] or b[0] + b[2] + margin <= a[0] or
                a[1] + a[3] + margin <= b[1] or b[1] + b[3] + margin <= a[1])


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    csv, out = argv[1], argv[2]
    n_images = int(argv[3]) if len(argv) > 3 else 12
    rng = np.random.default_rng(int(argv[4]) if len(argv) > 4 else 1)
    backs = [os.path.join(DATA, b) for b in BACKGROUNDS if os.path.exists(os.path.join(DATA, b))]
    if not os.path.exists(csv) or not backs:
        print("make_composites.py: FER2013 CSV or background photos missing", file=sys.stderr)
        return 77
    faces = public_test_faces(csv, 2 * n_images)
    os.makedirs(out, exist_ok=True)
    rows, k = [], 0
    for i in range(n_images):
        img = cv2.resize(cv2.imread(backs[i % len(backs)]), (640, 480), interpolation=cv2.INTER_AREA)
        placed = []
        for _ in range(1 + i % 2):
            emotion, face = faces[k % len(faces)]
            k += 1
            for _attempt in range(100):
                s = int(rng.integers(90, 221))
                box = (int(rng.integers(0, 640 - s)), int(rng.integers(0, 480 - s)), s, s)
                if not any(overlaps(box, p) for p in placed):
                    break
            else:
                continue
            x, y, _, _ = box
            big = cv2.resize(face, (s, s), interpolation=cv2.INTER_CUBIC)
            img[y:y + s, x:x + s] = cv2.cvtColor(big, cv2.COLOR_GRAY2BGR)
            placed.append(box)
            rows.append((f"composite_{i:02d}.png",) + box + (emotion,))
        cv2.imwrite(os.path.join(out, f"composite_{i:02d}.png"), img)
    with open(os.path.join(out, "truth.csv"), "w") as f:
        f.write("file,x,y,w,h,emotion\n")
        for r in rows:
            f.write(",".join(map(str, r)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
