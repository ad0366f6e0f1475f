#!/usr/bin/python3
"""The paper CNN in PyTorch, measured like `fer-bench train` / `fer-bench infer`.

Benchmark-only code (never part of the product). Prints one JSON line with
the same keys as fer-bench. Training holds a uint8 stand-in for FER2013 and
converts each batch to float, as fer-train does; `--format best` times a few
steps (inference: a few batches) in NCHW and in channels-last (NHWC) and
measures the faster one. Inference uses a frozen TorchScript module (oneDNN on).
`--arch FILE` measures a sequential architecture JSON (docs/weights-format.md)
instead of the paper CNN, as `fer-bench --arch FILE` does: the same layers, the
last dense layer's "softmax" meaning logits (the loss and inference apply it),
FLOPs counted as fer-bench counts them; graph layers ("add", "inputs" other
than the previous layer) are refused.
"""
import argparse
import json
import resource
import time

import torch
import torch.nn as nn


# The paper CNN as an architecture JSON would give it (libfer builds it in
# libfer/emotion/presets.c): measured when no --arch is given, and the network
# bench/compare-onnxruntime exports (paper_cnn).
PAPER_CNN = {
    "input": [1, 48, 48],
    "classes": ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"],
    "layers": [
        {"type": "conv2d", "filters": 32, "kernel": 3, "activation": "relu"},
        {"type": "conv2d", "filters": 64, "kernel": 3, "activation": "relu"},
        {"type": "maxpool2d", "size": 2}, {"type": "dropout", "rate": 0.25},
        {"type": "conv2d", "filters": 128, "kernel": 3, "activation": "relu"},
        {"type": "maxpool2d", "size": 2},
        {"type": "conv2d", "filters": 128, "kernel": 3, "activation": "relu"},
        {"type": "maxpool2d", "size": 2}, {"type": "dropout", "rate": 0.25},
        {"type": "flatten"},
        {"type": "dense", "units": 1024, "activation": "relu"}, {"type": "dropout", "rate": 0.5},
        {"type": "dense", "units": 7, "activation": "softmax"}]}


def arch_layer(o, c, h, w, flat):
    """One layer of an architecture JSON on a (c, h, w) input: its modules as
    (class, args, kwargs), the output shape, whether the tensor is then flat
    ((N, features) rather than (N, C, H, W)), and its forward FLOPs. Shapes as
    libfer/nn/arch.c gives them; raises ValueError or KeyError when bad."""
    kind, act, mods, f = o["type"], o.get("activation"), [], 0.0
    if act not in (None, "linear", "none", "relu", "softmax"):
        raise ValueError(f"unknown activation {act!r}")
    if kind in ("conv2d", "depthwise_conv2d", "maxpool2d", "globalavgpool") and flat:
        mods.append((nn.Unflatten, (1, (c, 1, 1)), {}))  # arch.c sees (c, 1, 1)
        flat = False
    if kind in ("conv2d", "depthwise_conv2d"):
        k, padding = int(o["kernel"]), o.get("padding", "valid")
        if padding not in ("valid", "same"):
            raise ValueError('padding must be "valid" or "same"')
        oc, groups = (int(o["filters"]), 1) if kind == "conv2d" else (c, c)
        # "same": (k - 1) // 2 before, the rest after, as torch's own "same" for even k
        pad = 0 if padding == "valid" else (k - 1) // 2 if k % 2 else "same"
        mods.append((nn.Conv2d, (c, oc, k), {"padding": pad, "groups": groups}))
        if padding == "valid":
            h, w = h - k + 1, w - k + 1
        f = 2.0 * oc * (c // groups) * k * k * h * w
        c = oc
    elif kind == "dense":
        if (h, w) != (1, 1):
            raise ValueError("dense needs a flat input (add a flatten layer)")
        if not flat:  # after globalavgpool: (N, C, 1, 1)
            mods.append((nn.Flatten, (), {}))
            flat = True
        mods.append((nn.Linear, (c, int(o["units"])), {}))
        f = 2.0 * c * int(o["units"])
        c = int(o["units"])
    elif kind == "batchnorm":
        mods.append((nn.BatchNorm1d if flat else nn.BatchNorm2d, (c,),
                     {"eps": float(o.get("eps", 1e-5)), "momentum": float(o.get("momentum", 0.1))}))
    elif kind == "maxpool2d":
        size = int(o.get("size", 2))
        stride = int(o.get("stride", size))
        mods.append((nn.MaxPool2d, (size, stride), {}))
        h, w = [(n - size) // stride + 1 if n >= size else 0 for n in (h, w)]
    elif kind == "globalavgpool":
        mods.append((nn.AdaptiveAvgPool2d, (1,), {}))
        h = w = 1
    elif kind == "dropout":
        mods.append((nn.Dropout, (float(o["rate"]),), {}))
    elif kind == "flatten":
        if not flat:
            mods.append((nn.Flatten, (), {}))
        c, h, w, flat = c * h * w, 1, 1, True
    elif kind == "relu":
        mods.append((nn.ReLU, (), {}))
    else:
        raise ValueError("unknown layer type")
    if h < 1 or w < 1:
        raise ValueError("input too small")
    if act == "relu":  # fused into the layer in libfer, a module here
        mods.append((nn.ReLU, (), {}))
    # "softmax" (the last dense layer's) adds nothing: the outputs are logits,
    # which CrossEntropyLoss and inference's torch.softmax turn into probabilities
    return mods, (c, h, w), flat, f


def paper_cnn(classes=7):
    """The paper CNN with `classes` outputs, as a torch.nn.Sequential."""
    last = dict(PAPER_CNN["layers"][-1], units=classes)
    spec = dict(PAPER_CNN, classes=[str(k) for k in range(classes)],
                layers=PAPER_CNN["layers"][:-1] + [last])
    return arch_net(spec, "the paper CNN")[0]()


def arch_net(spec, path, classes=None):
    """A sequential architecture (docs/weights-format.md; spec: the parsed JSON
    of the file path, named in messages) as a constructor
    of its torch.nn.Sequential, and its forward and training FLOPs per image,
    counted as bench_net.c counts them: 2 x multiply-adds of conv2d,
    depthwise_conv2d and dense; in training 3 times that (forward, dW, dX),
    but 2 times for layer 0 (no dX). Exits with a message on what libfer
    would refuse, on what fer-bench cannot run (not a 1x48x48 input, or not
    `classes` classes when given)
    and on graph layers ("add", "inputs" other than the previous layer)."""
    def fail(msg):
        raise SystemExit(f"torch_cnn.py: {path}: {msg}")

    try:
        if spec is None:
            with open(path) as f:
                spec = json.load(f)
        shape, n_classes, layers = tuple(spec["input"]), len(spec["classes"]), list(spec["layers"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        fail(f"not an architecture JSON ({e})")
    if shape != (1, 48, 48) or classes not in (None, n_classes):
        fail(f"needs a 1x48x48 input{f' and {classes} classes' if classes else ''} (as fer-bench)")
    steps, flat, fwd, train = [], False, 0.0, 0.0
    for i, o in enumerate(layers):
        kind = o.get("type") if isinstance(o, dict) else None
        where = f"layer {i} ({kind})"
        if kind is None:
            fail(f"{where}: needs a \"type\"")
        refs = {"input": -1}  # what "inputs" may name, as arch.c resolves it
        refs.update((str(l.get("name", j)), j) for j, l in enumerate(layers[:i]))
        ins = o.get("inputs")
        if kind == "add" or (ins is not None and
                             [refs.get(r) if isinstance(r, str) else None for r in ins] != [i - 1]):
            fail(f"{where}: a graph layer (a residual \"add\", or \"inputs\" other than the "
                 "previous layer): --arch builds sequential networks only")
        if o.get("activation") == "softmax" and (kind != "dense" or i != len(layers) - 1):
            fail(f"{where}: softmax only on the last dense layer")
        try:
            mods, shape, flat, f = arch_layer(o, *shape, flat)
        except (KeyError, ValueError, TypeError) as e:
            fail(f"{where}: {e if isinstance(e, ValueError) else f'bad or missing key {e}'}")
        steps += mods
        fwd += f
        train += f * (3 if i else 2)
    last = layers[-1] if layers else {}
    if last.get("type") != "dense" or last.get("activation") != "softmax" or shape[0] != n_classes:
        fail(f"the last layer must be dense with softmax and {n_classes} units")
    return lambda: nn.Sequential(*(cls(*args, **kw) for cls, args, kw in steps)), (fwd, train)


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def train_steps(model, opt, data, labels, batch, steps, fmt, gen):
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(steps):
        idx = torch.randint(0, data.shape[0], (batch,), generator=gen)
        x = (data[idx].float() * (1.0 / 255.0)).unsqueeze(1)
        if fmt == "nhwc":
            x = x.contiguous(memory_format=torch.channels_last)
        y = labels[idx]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()


def make_trainer(fmt, net):
    torch.manual_seed(1)
    model = net()
    if fmt == "nhwc":
        model = model.to(memory_format=torch.channels_last)
    model.train()
    return model, torch.optim.Adam(model.parameters(), lr=1e-4, eps=1e-7)


def bench_train(a):
    gen = torch.Generator().manual_seed(7)
    data = torch.randint(0, 256, (max(a.dataset, a.batch), 48, 48), dtype=torch.uint8, generator=gen)
    labels = torch.randint(0, 7, (data.shape[0],), generator=gen)
    fmts = ["nchw", "nhwc"] if a.format == "best" else [a.format]
    best = None
    for fmt in fmts:
        model, opt = make_trainer(fmt, a.net)
        train_steps(model, opt, data, labels, a.batch, a.warmup, fmt, gen)
        if len(fmts) > 1:  # short trial to pick the faster layout
            t = time.perf_counter()
            train_steps(model, opt, data, labels, a.batch, 3, fmt, gen)
            t = time.perf_counter() - t
            if best is None or t < best[0]:
                best = (t, fmt, model, opt)
        else:
            best = (0, fmt, model, opt)
    _, fmt, model, opt = best
    t0 = time.perf_counter()
    train_steps(model, opt, data, labels, a.batch, a.steps, fmt, gen)
    secs = time.perf_counter() - t0
    ips = a.batch * a.steps / secs
    return {"batch": a.batch, "threads": torch.get_num_threads(), "steps": a.steps,
            "images_per_s": round(ips, 1), "gflops": round(ips * a.flops[1] * 1e-9, 1),
            "peak_rss_mb": round(peak_rss_mb(), 1), "format": fmt, "dataset_images": data.shape[0]}


def frozen_infer(fmt, batch, net):
    """The frozen TorchScript module for one memory layout, and its input."""
    torch.manual_seed(1)
    model = net().eval()
    x = torch.rand(batch, 1, 48, 48)
    if fmt == "nhwc":
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        return torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(model, x))), x


def bench_infer(a):
    fmts = ["nchw", "nhwc"] if a.format == "best" else [a.format]
    best = None
    with torch.no_grad():
        for fmt in fmts:
            sm, x = frozen_infer(fmt, a.batch, a.net)
            for _ in range(a.warmup):
                torch.softmax(sm(x), 1)
            t = time.perf_counter()  # short trial to pick the faster layout
            for _ in range(max(3, a.warmup)):
                torch.softmax(sm(x), 1)
            t = time.perf_counter() - t
            if best is None or t < best[0]:
                best = (t, fmt, sm, x)
        _, fmt, sm, x = best
        lat = []
        for _ in range(a.steps):
            t = time.perf_counter()
            torch.softmax(sm(x), 1)
            lat.append((time.perf_counter() - t) * 1e3)
    total = sum(lat)
    lat.sort()
    return {"batch": a.batch, "threads": torch.get_num_threads(), "iters": a.steps,
            "latency_ms_median": round(lat[len(lat) // 2], 3),
            "latency_ms_p95": round(lat[int(0.95 * (len(lat) - 1))], 3),
            "images_per_s": round(a.batch * len(lat) / (total * 1e-3), 1),
            "peak_rss_mb": round(peak_rss_mb(), 1), "format": fmt}


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("mode", choices=["train", "infer"])
    p.add_argument("--batch", type=int, default=None)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", "--iters", type=int, default=None)
    p.add_argument("--warmup", type=int, default=None)
    p.add_argument("--dataset", type=int, default=35887)
    p.add_argument("--format", choices=["nchw", "nhwc", "best"], default="best")
    p.add_argument("--arch", metavar="FILE", help="a sequential architecture JSON instead of "
                   "the paper CNN (as fer-bench --arch)")
    a = p.parse_args()
    a.net, a.flops = (arch_net(None, a.arch, classes=7) if a.arch else
                      arch_net(PAPER_CNN, "the paper CNN", classes=7))
    torch.set_num_threads(a.threads)
    train = a.mode == "train"
    a.batch = a.batch or (64 if train else 1)
    a.steps = a.steps or (20 if train else 200)
    a.warmup = a.warmup if a.warmup is not None else (2 if train else 5)
    print(json.dumps(bench_train(a) if train else bench_infer(a)))


if __name__ == "__main__":
    main()
