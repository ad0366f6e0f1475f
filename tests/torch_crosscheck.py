#!/usr/bin/python3
"""Reference for tests/test_torch.c: runs a libfer model in PyTorch.

usage: torch_crosscheck.py WEIGHTS.safetensors BATCH.bin OUT.bin [LABEL_SMOOTHING]

Any graph of the layers the test models use (conv2d, depthwise_conv2d, dense,
maxpool2d, flatten, relu, dropout as the identity, batchnorm in training mode,
add, globalavgpool), nodes taking the previous output or their "inputs".
The weights file is read with numpy alone (the safetensors layout: 8-byte
little-endian header size, JSON header, raw little-endian float32), which also
proves that the format loads outside libfer. BATCH.bin holds int32 n, then n
int32 labels, then n*48*48 float32 inputs. OUT.bin receives float32
probabilities (n*classes), the mean loss, then the gradient of every parameter
in libfer's order (file order, weight before bias; running statistics are
buffers, not parameters), in libfer layouts.
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

    params = {k: torch.tensor(v, requires_grad=not k.endswith(("running_mean", "running_var")))
              for k, v in weights.items()}
    names = {}
    outs = []
    for i, layer in enumerate(arch["layers"]):
        names[layer.get("name", str(i))] = i
        refs = layer.get("inputs")
        ins = [x if r == "input" else outs[names[r]] for r in refs] if refs else [outs[-1] if outs else x]
        a = ins[0]
        t = layer["type"]
        if t in ("conv2d", "depthwise_conv2d"):
            k = layer["kernel"]
            if layer.get("padding", "valid") == "same":
                lo = (k - 1) // 2
                a = F.pad(a, (lo, k - 1 - lo, lo, k - 1 - lo))
            groups = a.shape[1] if t == "depthwise_conv2d" else 1
            a = F.conv2d(a, params[f"{i}.weight"], params[f"{i}.bias"], groups=groups)
        elif t == "dense":
            # libfer stores dense weights as [in, out]
            a = a.reshape(n, -1) @ params[f"{i}.weight"] + params[f"{i}.bias"]
        elif t == "maxpool2d":
            a = F.max_pool2d(a, layer.get("size", 2), layer.get("stride", layer.get("size", 2)))
        elif t == "flatten":
            a = a.reshape(n, -1)
        elif t == "relu":
            a = F.relu(a)
        elif t == "batchnorm":
            a = F.batch_norm(a, params[f"{i}.running_mean"].clone(), params[f"{i}.running_var"].clone(),
                             params[f"{i}.weight"], params[f"{i}.bias"], training=True,
                             momentum=layer.get("momentum", 0.1), eps=layer.get("eps", 1e-5))
        elif t == "add":
            a = sum(ins[1:], ins[0])
        elif t == "globalavgpool":
            a = a.mean(dim=(2, 3), keepdim=True)
        elif t == "dropout":
            pass  # evaluation mode: identity
        act = layer.get("activation")
        if act == "relu":
            a = F.relu(a)
        outs.append(a)
    a = outs[-1].reshape(n, -1)
    smoothing = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
    loss = F.cross_entropy(a, torch.from_numpy(labels.astype(np.int64)), label_smoothing=smoothing)
    loss.backward()
    probs = F.softmax(a, dim=1)
    out = [probs.detach().numpy().ravel(), np.array([loss.item()], dtype=np.float32)]
    trained = [k for k in params if params[k].requires_grad]
    for name in sorted(trained, key=lambda s: (int(s.split(".")[0]), s.split(".")[1] != "weight")):
        out.append(params[name].grad.numpy().ravel())
    open(sys.argv[3], "wb").write(np.concatenate(out).astype("<f4").tobytes())


if __name__ == "__main__":
    main()
