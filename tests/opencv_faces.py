#!/usr/bin/python3
"""Reference face boxes from OpenCV itself, for tests/test_detect.c.

usage: opencv_faces.py CASCADE SCALE MIN_NEIGHBORS MIN_SIZE IMAGE...
Prints one "IMAGE x y w h" line per face found by
cv2.CascadeClassifier.detectMultiScale (single thread) on the image loaded
in colour and converted with cvtColor(BGR2GRAY), like fer_image_load does.
Exits with 77 when cv2 is missing (the C test then skips).
"""
import sys

try:
    import cv2
except ImportError:
    print("opencv_faces.py: python3-opencv is not installed", file=sys.stderr)
    sys.exit(77)


def main(argv):
    if len(argv) < 6:
        print(__doc__, file=sys.stderr)
        return 2
    cascade, scale, neighbors, min_size = argv[1], float(argv[2]), int(argv[3]), int(argv[4])
    cv2.setNumThreads(1)
    cc = cv2.CascadeClassifier(cascade)
    if cc.empty():
        print(f"opencv_faces.py: cannot load {cascade}", file=sys.stderr)
        return 1
    for path in argv[5:]:
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None:
            print(f"opencv_faces.py: cannot read {path}", file=sys.stderr)
            return 1
        grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        faces = cc.detectMultiScale(grey, scaleFactor=scale, minNeighbors=neighbors,
                                    minSize=(min_size, min_size))
        for (x, y, w, h) in faces:
            print(path, x, y, w, h)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
