#!/usr/bin/python3
"""Counts the dead ReLU units of a libfer weights file of a sequential
architecture (the paper CNN, fer-vgg: its arch metadata says the layers):
the channels and units of each ReLU output that stay at zero on every one of
the first N Training images of a FER2013 CSV. An analysis aid for
docs/training.md (python3-torch runs the layers as a reference; the product
never uses it).

    scripts/dead-units.py weights/fer-7class.safetensors ../shared/datasets/fer2013.csv.gz [N]
"""
import gzip
import json
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F


def load(path):
    """The file's tensors by name, and its architecture (the metadata's JSON)."""
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    header = json.loads(b[8:8 + n])
    data = b[8 + n:]
    tensors = {k: torch.tensor(np.frombuffer(data[v["data_offsets"][0]:v["data_offsets"][1]],
                                             dtype=np.float32).reshape(v["shape"]))
               for k, v in header.items() if k != "__metadata__"}
    return tensors, json.loads(header["__metadata__"]["arch"])


def training_images(path, n):
    rows = []
    with (gzip.open(path, "rt") if path.endswith(".gz") else open(path)) as f:
        next(f)
        for line in f:
            label, pixels, usage = line.strip().split(",")
            if usage == "Training":
                rows.append(np.array(pixels.split(), dtype=np.float32))
                if len(rows) == n:
                    break
    return torch.tensor(np.stack(rows) / 255.0).reshape(-1, 1, 48, 48)


def main():
    torch.set_num_threads(1)
    path = sys.argv[1]
    w, arch = load(path)
    x = training_images(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 1000)
    a, acts = x, []
    for i, o in enumerate(arch["layers"]):
        t, relu = o["type"], o.get("activation") == "relu"
        if t == "conv2d":
            pad = (o["kernel"] - 1) // 2 if o.get("padding") == "same" else 0
            a = F.conv2d(a, w[f"{i}.weight"], w[f"{i}.bias"], padding=pad)
        elif t == "batchnorm":
            a = F.batch_norm(a, w[f"{i}.running_mean"], w[f"{i}.running_var"], w[f"{i}.weight"],
                             w[f"{i}.bias"], training=False, eps=o.get("eps", 1e-5))
        elif t == "dense":
            a = (a.reshape(len(x), -1) @ w[f"{i}.weight"] + w[f"{i}.bias"])[:, :, None, None]
        elif t == "maxpool2d":
            a = F.max_pool2d(a, o["size"], o.get("stride", o["size"]))
        elif t == "relu":
            relu = True
        elif t not in ("dropout", "flatten"):
            sys.exit(f"dead-units.py: {path}: layer {i} ({t}) is not handled")
        if relu:
            a = F.relu(a)
            acts.append((f"{i} {t} ({a.shape[1]})", a))
    print(f"dead units over {len(x)} Training images of {path}:")
    for name, a in acts:
        dead = int((a.amax(dim=(0, 2, 3)) <= 0).sum())
        print(f"  {name:22s} {dead:4d} dead ({100 * dead / a.shape[1]:.0f}%)")


if __name__ == "__main__":
    main()
