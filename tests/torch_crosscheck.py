#!/usr/bin/python3
"""Reference for tests/test_torch.c: runs libfer's paper CNN in PyTorch.

usage: torch_crosscheck.py WEIGHTS.safetensors BATCH.bin OUT.bin

The weights file is read with numpy alone (the safetensors layout: 8-byte
little-endian header size, JSON header, raw little-endian float32), which also
proves that the format loads outside libfer. BATCH.bin holds int32 n, then n
int32 labels, then n*48*48 float32 inputs. OUT.bin receives float32
probabilities (n*classes), the mean loss, then the gradient of every parameter
in the header's order of "<layer>.weight"/"<layer>.bias", in libfer layouts.
"""
import json
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F


def read_safetensors(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    meta = header.pop("__metadata__")
    tensors = {}
    for name, e in header.items():
        assert e["dtype"] == "F32"
        b, en = e["data_offsets"]
        tensors[name] = np.frombuffer(data[b:en], dtype="<f4").reshape(e["shape"]).copy()
    return tensors, meta


def main():
    weights, meta = read_safetensors(sys.argv[1])
    arch = json.loads(meta["arch"])
    raw = open(sys.argv[2], "rb").read()
    (n,) = struct.unpack("<i", raw[:4])
    labels = np.frombuffer(raw[4:4 + 4 * n], dtype="<i4")
    c, h, w = arch["input"]
    x = torch.from_numpy(np.frombuffer(raw[4 + 4 * n:], dtype="<f4").reshape(n, c, h, w).copy())

    params = {k: torch.tensor(v, requires_grad=True) for k, v in weights.items()}
    a = x
    for i, layer in enumerate(arch["layers"]):
        t = layer["type"]
        if t == "conv2d":
            k = layer["kernel"]
            if layer.get("padding", "valid") == "same":
                lo = (k - 1) // 2
                a = F.pad(a, (lo, k - 1 - lo, lo, k - 1 - lo))
            a = F.conv2d(a, params[f"{i}.weight"], params[f"{i}.bias"])
        elif t == "dense":
            # libfer stores dense weights as [in, out]
            a = a @ params[f"{i}.weight"] + params[f"{i}.bias"]
        elif t == "maxpool2d":
            a = F.max_pool2d(a, layer.get("size", 2), layer.get("stride", layer.get("size", 2)))
        elif t == "flatten":
            a = a.reshape(n, -1)
        elif t == "relu":
            a = F.relu(a)
        elif t == "dropout":
            pass  # evaluation mode: identity
        act = layer.get("activation")
        if act == "relu":
            a = F.relu(a)
    loss = F.cross_entropy(a, torch.from_numpy(labels.astype(np.int64)))
    loss.backward()
    probs = F.softmax(a, dim=1)
    out = [probs.detach().numpy().ravel(), np.array([loss.item()], dtype=np.float32)]
    for name in sorted(params, key=lambda s: (int(s.split(".")[0]), s.split(".")[1] != "weight")):
        out.append(params[name].grad.numpy().ravel())
    open(sys.argv[3], "wb").write(np.concatenate(out).astype("<f4").tobytes())


if __name__ == "__main__":
    main()
