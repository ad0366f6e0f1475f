#!/usr/bin/python3
"""Writes the fuzz seed corpora under tests/fuzz/corpus/<target>/: a few small,
valid (and a few nearly valid) inputs per target, so that libFuzzer starts from
the interesting paths rather than from empty input. Run from the source tree
with /usr/bin/python3 (numpy and cv2 come from Debian); the output is
committed, and `make check` replays it through every harness."""
import json
import os
import struct
import sys
import xml.etree.ElementTree as ET

import cv2
import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
CASCADE = "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml"


def put(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def fer2013():
    lines = open("tests/data/fer2013-sample.csv").read().splitlines()
    head, rows = lines[0], lines[1:3]
    put("fer2013_csv", "two-rows.csv", "\n".join([head] + rows) + "\n")
    put("fer2013_csv", "crlf-quoted.csv",
        "\r\n".join(['"emotion","pixels","Usage"'] +
                    ['%s,"%s",%s' % tuple(r.split(",")) for r in rows]) + "\r\n")
    swapped = ["Usage,pixels,emotion"] + [",".join(reversed(r.split(","))) for r in rows]
    put("fer2013_csv", "columns-swapped.csv", "\n".join(swapped) + "\n")
    put("fer2013_csv", "no-usage.csv",
        "\n".join(["emotion,pixels"] + [",".join(r.split(",")[:2]) for r in rows[:1]]) + "\n")
    put("fer2013_csv", "header-only.csv", head + "\n")
    e, p, u = rows[0].split(",")
    put("fer2013_csv", "short-row.csv", "%s\n%s,%s,%s\n" % (head, e, " ".join(p.split()[:100]), u))


def heart():
    put("heart", "seconds-bpm.csv", "seconds,bpm\n" + "".join(
        "%d,%d\n" % (t, 70 + (t * 7) % 9) for t in range(0, 40, 2)))
    put("heart", "rr-ms.csv", "rr_ms\n" + "".join("%d\n" % (820 + (i * 37) % 60) for i in range(30)))
    put("heart", "rr-no-header.csv", "".join("%d\n" % (700 + (i * 13) % 80) for i in range(20)))
    put("heart", "bpm-crlf.csv", "".join("%d,%.1f\r\n" % (t, 88 + t % 5) for t in range(12)))
    put("heart", "outliers.csv", "t,hr\n0,70\n1,71\n2,250\n3,72\n4,69\n5,-3\n6,70\n")


def catalog():
    lines = open("datasets/catalog.csv", encoding="utf-8").read().splitlines()
    put("catalog", "five-tracks.csv", "\n".join(lines[:6]) + "\n")
    put("catalog", "header-only.csv", lines[0] + "\n")
    put("catalog", "spotifyfeatures.csv",  # the original layout, with its quirks
        "genre,artist_name,track_name,track_id,popularity,acousticness,danceability,duration_ms,"
        "energy,instrumentalness,key,liveness,loudness,mode,speechiness,tempo,time_signature,"
        "valence\n"
        "Movie,Henri Salvador,C'est beau de faire un Show,0BRjO6ga9RKCKjfDqeFgWV,0,0.611,0.389,"
        "99373,0.91,0,C#,0.346,-1.828,Major,0.0525,166.969,4-Apr,0.814\n"
        "Dance,\"Earth, Wind & Fire\",Sept,0BjC1NfoEOOusryehmNudP,1,0.246,0.59,137373,0.737,"
        "8.19E-06,Db,0.151,-5.559,Minor,0.0868,174.003,4-Mar,0.816\n"
        "R&B,Henri Salvador,C'est beau de faire un Show,0BRjO6ga9RKCKjfDqeFgWV,3,0.611,0.389,"
        "99373,0.91,0,C#,0.346,-1.828,Major,0.0525,166.969,4-Apr,0.814\n")
    put("catalog", "genre-lists.csv", "track_id,track_name,artist_name,genres,popularity,"
        "valence,energy,tempo\n"
        "a1,T,A, rock ;Jazz;;ROCK ,10,0.5,0.5,100\n"
        "a1,T,A,blues; jazz,50,0.5,0.5,100\n"
        "a2,U,B, ; ,1,0.5,0.5,100\n")
    cols = "track_id,track_name,artist_name,genre,popularity,valence,energy,tempo"
    put("catalog", "minimal-quoted.csv", cols + "\n" +
        '0BRjO6ga9RKCKjfDqeFgWV,"Hello, ""World""",Someone,Pop,50,0.5,0.6,120\n'
        "0BRjO6ga9RKCKjfDqeFgWV,Hello,Someone,Rock,70,0.5,0.6,120\n"
        "1BRjO6ga9RKCKjfDqeFgWV,Bad,Someone else,Pop,abc,0.5,0.6,120\r\n")


def images():
    rng = np.random.default_rng(7)
    grey = rng.integers(0, 256, (24, 32), dtype=np.uint8)
    colour = rng.integers(0, 256, (20, 16, 3), dtype=np.uint8)
    rgba = rng.integers(0, 256, (8, 8, 4), dtype=np.uint8)
    for name, img, ext in [("grey.png", grey, ".png"), ("colour.jpg", colour, ".jpg"),
                           ("rgba.png", rgba, ".png"), ("colour.bmp", colour, ".bmp"),
                           ("grey.pgm", grey, ".pgm")]:
        ok, buf = cv2.imencode(ext, img)
        assert ok
        put("image", name, buf.tobytes())
    ok, buf = cv2.imencode(".png", (grey.astype(np.uint16) * 257))
    put("image", "grey16.png", buf.tobytes())
    ok, buf = cv2.imencode(".jpg", grey, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    put("image", "progressive.jpg", buf.tobytes())


def exif_app1(orientation, big_endian):
    """An APP1 "Exif" segment whose IFD0 holds only the orientation tag."""
    e = ">" if big_endian else "<"
    tiff = (b"MM" if big_endian else b"II") + struct.pack(e + "HI", 42, 8) + \
        struct.pack(e + "HHHI", 1, 0x0112, 3, 1) + struct.pack(e + "HHI", orientation, 0, 0)
    body = b"Exif\0\0" + tiff
    return b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body


def image_headers():
    """JPEGs turned by their EXIF orientation (libfer/exif.c), and binary PNM
    read by libfer itself: 16-bit samples, comments in the header."""
    rng = np.random.default_rng(11)
    colour = rng.integers(0, 256, (12, 20, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(".jpg", colour)
    jpg = buf.tobytes()
    put("image", "exif-orientation-6-ii.jpg", jpg[:2] + exif_app1(6, False) + jpg[2:])
    put("image", "exif-orientation-7-mm.jpg", jpg[:2] + exif_app1(7, True) + jpg[2:])
    grey16 = rng.integers(0, 65536, (6, 9), dtype=np.uint16)
    put("image", "grey16.pgm", b"P5\n9 6\n65535\n" + grey16.astype(">u2").tobytes())
    put("image", "comments.ppm", b"P6 # made by make-seeds.py\n4\t3\r# maxval next\n255\n" +
        colour[:3, :4].tobytes())


def safetensors(arch, tensors, metadata_extra=None):
    """A libfer weights file as docs/weights-format.md describes it."""
    md = {"format": "libfer", "libfer_version": "0.1.0", "arch": json.dumps(arch),
          "classes": ",".join(arch["classes"]), "input": ",".join(map(str, arch["input"])),
          "preprocess": "grey uint8 / 255"}
    md.update(metadata_extra or {})
    header, data, at = {"__metadata__": md}, b"", 0
    for name, shape in tensors:
        n = int(np.prod(shape))
        values = (np.arange(n, dtype=np.float32) % 7 - 3) * np.float32(0.05)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [at, at + 4 * n]}
        data += values.astype("<f4").tobytes()
        at += 4 * n
    h = json.dumps(header).encode()
    h += b" " * (-(8 + len(h)) % 8)
    return struct.pack("<Q", len(h)) + h + data


TINY = {"input": [1, 6, 6], "classes": ["angry", "happy", "sad"],
        "layers": [{"type": "conv2d", "filters": 2, "kernel": 3, "padding": "valid",
                    "activation": "relu"},
                   {"type": "maxpool2d", "size": 2, "stride": 2},
                   {"type": "dropout", "rate": 0.25},
                   {"type": "flatten"},
                   {"type": "dense", "units": 3, "activation": "softmax"}]}
TINY_TENSORS = [("0.weight", [2, 1, 3, 3]), ("0.bias", [2]), ("4.weight", [8, 3]), ("4.bias", [3])]


def models():
    put("model", "tiny.safetensors", safetensors(TINY, TINY_TENSORS))
    adam = [("adam.%s.%s" % (mv, n), s) for mv in "mv" for n, s in TINY_TENSORS]
    put("model", "tiny.ckpt", safetensors(TINY, TINY_TENSORS + adam, {
        "adam.iterations": "3", "adam.lr": "0.0001", "adam.decay": "0",
        "fer.extra": json.dumps({"epoch": 1, "rng": [1, 2, 3, 4]})}))
    put("arch_json", "tiny.json", json.dumps(TINY))
    same = dict(TINY, layers=[{"type": "conv2d", "filters": 3, "kernel": 2, "padding": "same"},
                              {"type": "relu"}, {"type": "flatten"},
                              {"type": "dense", "units": 4, "activation": "relu"},
                              {"type": "dense", "units": 3, "activation": "softmax"}])
    put("arch_json", "same-relu.json", json.dumps(same))
    put("arch_json", "bad-last.json", json.dumps(dict(TINY, layers=TINY["layers"][:-1])))


def cascade():
    """The first two stages of OpenCV's frontal-face cascade, features renumbered."""
    root = ET.parse(CASCADE).getroot()
    cas = root.find("cascade")
    stages = cas.find("stages")
    keep = list(stages)[:2]
    for s in list(stages)[2:]:
        stages.remove(s)
    for s in keep:
        weak = s.find("weakClassifiers")
        for w in list(weak)[3:]:
            weak.remove(w)
        s.find("maxWeakCount").text = str(len(weak))
    cas.find("stageNum").text = str(len(keep))
    used, features = [], cas.find("features")
    old = list(features)
    for s in keep:
        for w in s.find("weakClassifiers"):
            nodes = w.find("internalNodes").text.split()
            f = int(nodes[2])
            if f not in used:
                used.append(f)
            nodes[2] = str(used.index(f))
            w.find("internalNodes").text = " ".join(nodes)
    for f in old:
        features.remove(f)
    for f in used:
        features.append(old[f])
    put("cascade", "two-stages.xml", ET.tostring(root, xml_declaration=True, encoding="utf-8"))


def spotify():
    track = {"id": "0BRjO6ga9RKCKjfDqeFgWV", "name": "C'est beau", "popularity": 41,
             "artists": [{"name": "Henri Salvador"}]}
    put("spotify", "recommendations.json", json.dumps({"tracks": [track, None, dict(track, popularity=None)]}))
    put("spotify", "search.json", json.dumps({"tracks": {"items": [track], "total": 1}}))
    put("spotify", "token.json", json.dumps({"access_token": "BQD" + "x" * 40,
                                             "token_type": "Bearer", "expires_in": 3600}))
    put("spotify", "error.json", json.dumps({"error": {"status": 403, "message": "Forbidden"}}))


def spotify_retry():
    """Server scripts for fuzz_spotify_retry.c: a status line, headers, an
    empty line, the body; one record per request, "%%" lines between them."""
    track = {"id": "0BRjO6ga9RKCKjfDqeFgWV", "name": "C'est beau", "popularity": 41,
             "artists": [{"name": "Henri Salvador"}]}
    token = "200\n\n" + json.dumps({"access_token": "BQDfuzztoken0123456789",
                                     "token_type": "Bearer", "expires_in": 3600})
    recs = "200\n\n" + json.dumps({"tracks": [track, None, dict(track, id="1BRjO6ga9RKCKjfDqeFgWV")]})
    def search(page):
        items = [dict(track, id="%022d" % (10 * page + i)) for i in range(10)]
        return "200\n\n" + json.dumps({"tracks": {"items": items, "total": 30}})
    limited = "429\nRetry-After: %s\n\n" + json.dumps({"error": {"status": 429, "message": "slow down"}})
    five = "500\n\n" + json.dumps({"error": {"status": 500, "message": "oops"}})
    scripts = {
        "ok.txt": [token, recs],
        "429-then-ok.txt": [token, limited % "1", recs],
        "429-1e300.txt": [token, limited % "1e300"],
        "429-1e17.txt": [token, limited % "100000000000000000"],
        "500-backoff.txt": ["opts 86400000 86400000 5\n" + token, five, five, recs],
        "timeout-then-ok.txt": [token, "!28\n", recs],
        "renew-on-401.txt": [token, "401\n\n{}", token, recs],
        "search-fallback.txt": [token, "403\n\n{}", search(0), search(0), search(1)],
        "echoed-secret.txt": [token, "400\n\n" + json.dumps({"error": {"message":
            "\x1b[31mAuthorization: Basic ZnV6ei1pZDpacTktZnV6ei1zZWNyZXQtWHc= Zq9-fuzz-secret-Xw\n"}})],
        "token-refused.txt": ["401\n\n" + json.dumps({"error": "invalid_client\r\nBearer x"})],
    }
    for name, records in scripts.items():
        put("spotify_retry", name, "\n%%\n".join(records))


def checkpoint():
    """Metadata for fuzz_checkpoint.c: adam.iterations, adam.lr, adam.decay
    lines, then fer.extra (fer-train's progress)."""
    rows = [[1.9, 0.2, 1.8, 0.25, 1e-4, 3.5, 120.0], [1.7, 0.3, None, None, 1e-4, 3.4, 121.0]]
    extra = {"epoch": 2, "rng": ["%016x" % (i * 0x9E3779B97F4A7C15 % 2**64) for i in (1, 2, 3, 4)],
             "best_val_acc": 0.25, "best_val_loss": 1.8, "since_best_loss": 1,
             "since_lr_change": 1, "history": rows}
    seeds = {
        "valid.txt": ("12", "0.0001", "0", extra),
        "iterations-int64-max.txt": ("9223372036854775807", "0.0001", "0", extra),
        "iterations-2e53.txt": ("9007199254740992", "0.0001", "1e-6", extra),
        "lr-1e300.txt": ("3", "1e300", "nan", extra),
        "epoch-1e300.txt": ("3", "0.0001", "0", dict(extra, epoch=1e300)),
        "since-best-loss-1e300.txt": ("3", "0.0001", "0", dict(extra, since_best_loss=1e300)),
        "history-1e300.txt": ("3", "0.0001", "0", dict(extra, history=[rows[0], [1e300] * 7])),
        "rng-zero.txt": ("3", "0.0001", "0", dict(extra, rng=["0"] * 4)),
    }
    for name, (it, lr, decay, ex) in seeds.items():
        put("checkpoint", name, "\n".join([it, lr, decay, json.dumps(ex)]))


def probs():
    """Probability files for fuzz_probs.c's three images (pixel j of image i:
    (i * 37 + j * 7) mod 256), hashed as libfer/emotion/probs.c does."""
    def fnv(i):
        h = 2166136261
        for j in range(48 * 48):
            h = ((h ^ ((i * 37 + j * 7) % 256)) * 16777619) & 0xFFFFFFFF
        return "%08x" % h
    names = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
    p = ["0.1", "0.05", "0.05", "0.5", "0.1", "0.1", "0.1"]
    rows = ["%d,%s,%s" % (i, fnv(i), ",".join(p)) for i in range(3)]
    put("probs", "three.csv", "\n".join(["row,hash," + ",".join(names)] + rows) + "\n")
    shuffled = ["neutral", "row"] + names[:6] + ["hash"]
    put("probs", "columns-shuffled.csv", "\n".join([",".join(shuffled)] + [
        ",".join([p[6], str(i)] + p[:6] + [fnv(i)]) for i in (2, 0)]) + "\n")
    put("probs", "bad-hash.csv", "row,hash," + ",".join(names) + "\n1,00000000," + ",".join(p) + "\n")


MAKERS = {"probs": probs, "fer2013_csv": fer2013, "heart": heart, "catalog": catalog, "image": images,
          "image_headers": image_headers, "model": models, "cascade": cascade, "spotify": spotify,
          "spotify_retry": spotify_retry, "checkpoint": checkpoint}

if __name__ == "__main__":
    # make-seeds.py [TARGET...]: only those targets' seeds (default: all).
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    for name in sys.argv[1:] or MAKERS:
        MAKERS[name]()
    print("seeds written under", ROOT, file=sys.stderr)
