#!/usr/bin/python3
"""The reference loop of bench/live-bench: every frame of VIDEO read with
cv2.VideoCapture (FFmpeg, one decoding thread) and given to OpenCV's Haar
cascade (haarcascade_frontalface_default.xml, Debian's opencv-data), one thread,
detectMultiScale with OpenCV's defaults (scaleFactor 1.1, minNeighbors 3) on
the grey frame. Prints one JSON object: frames, frames with a face, the loop's
wall and CPU seconds (import and cascade load excluded).

usage: live-opencv.py VIDEO
"""
import json
import os
import sys
import time

os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "threads;1")
import cv2  # noqa: E402

CASCADE = "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml"


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    cv2.setNumThreads(1)
    cascade = cv2.CascadeClassifier(CASCADE)
    if cascade.empty():
        print(f"live-opencv.py: cannot load {CASCADE} (apt-get install opencv-data)", file=sys.stderr)
        return 1
    cap = cv2.VideoCapture(argv[1], cv2.CAP_FFMPEG)
    if not cap.isOpened():
        print(f"live-opencv.py: cannot open {argv[1]}", file=sys.stderr)
        return 1
    frames = found = 0
    w0, c0 = time.perf_counter(), time.process_time()
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        faces = cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=3)
        frames += 1
        found += len(faces) > 0
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    cap.release()
    print(json.dumps({"frames": frames, "with_face": found, "loop_wall_s": wall,
                      "loop_cpu_s": cpu, "opencv": cv2.__version__}))
    return 0 if frames else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
