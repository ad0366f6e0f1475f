#!/usr/bin/python3
"""Counts the dead ReLU units of a paper-CNN weights file: conv channels and
dense units that stay at zero on every one of the first N Training images of
a FER2013 CSV. An analysis aid for docs/training.md (python3-torch runs the
convolutions as a reference; the product never uses it).

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
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    header = json.loads(b[8:8 + n])
    data = b[8 + n:]
    return {k: torch.tensor(np.frombuffer(data[v["data_offsets"][0]:v["data_offsets"][1]],
                                          dtype=np.float32).reshape(v["shape"]))
            for k, v in header.items() if k != "__metadata__"}


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
    w = load(sys.argv[1])
    x = training_images(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 1000)
    acts = {}
    a = F.relu(F.conv2d(x, w["0.weight"], w["0.bias"]))
    acts["conv1 (32)"] = a
    a = F.relu(F.conv2d(a, w["1.weight"], w["1.bias"]))
    acts["conv2 (64)"] = a
    a = F.relu(F.conv2d(F.max_pool2d(a, 2), w["4.weight"], w["4.bias"]))
    acts["conv3 (128)"] = a
    a = F.relu(F.conv2d(F.max_pool2d(a, 2), w["6.weight"], w["6.bias"]))
    acts["conv4 (128)"] = a
    flat = F.max_pool2d(a, 2).reshape(len(x), -1)
    acts["dense (1024)"] = F.relu(flat @ w["10.weight"] + w["10.bias"])[:, :, None, None]
    print(f"dead units over {len(x)} Training images of {sys.argv[1]}:")
    for name, a in acts.items():
        dead = int((a.amax(dim=(0, 2, 3)) <= 0).sum())
        print(f"  {name:13s} {dead:4d} dead ({100 * dead / a.shape[1]:.0f}%)")


if __name__ == "__main__":
    main()
