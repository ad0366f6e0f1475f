#!/usr/bin/python3
"""The paper CNN in PyTorch, measured like `fer-bench train` / `fer-bench infer`.

Benchmark-only code (never part of the product). Prints one JSON line with
the same keys as fer-bench. Training holds a uint8 stand-in for FER2013 and
converts each batch to float, as fer-train does; `--format best` times a few
steps (inference: a few batches) in NCHW and in channels-last (NHWC) and
measures the faster one. Inference uses a frozen TorchScript module (oneDNN on).
"""
import argparse
import json
import resource
import time

import torch
import torch.nn as nn


def paper_cnn(classes=7):
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(),
        nn.Conv2d(32, 64, 3), nn.ReLU(),
        nn.MaxPool2d(2, 2), nn.Dropout(0.25),
        nn.Conv2d(64, 128, 3), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(128, 128, 3), nn.ReLU(), nn.MaxPool2d(2, 2), nn.Dropout(0.25),
        nn.Flatten(),
        nn.Linear(2048, 1024), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(1024, classes))


def flops_per_image():
    """Forward and training FLOPs (2 x multiply-adds), as fer-bench counts them."""
    convs = [(32, 1, 46), (64, 32, 44), (128, 64, 20), (128, 128, 8)]
    dense = [(2048, 1024), (1024, 7)]
    layers = [2.0 * oc * ic * 9 * hw * hw for oc, ic, hw in convs] + [2.0 * i * o for i, o in dense]
    return sum(layers), sum(f * (3 if i else 2) for i, f in enumerate(layers))


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


def make_trainer(fmt):
    torch.manual_seed(1)
    model = paper_cnn()
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
        model, opt = make_trainer(fmt)
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
            "images_per_s": round(ips, 1), "gflops": round(ips * flops_per_image()[1] * 1e-9, 1),
            "peak_rss_mb": round(peak_rss_mb(), 1), "format": fmt, "dataset_images": data.shape[0]}


def frozen_infer(fmt, batch):
    """The frozen TorchScript module for one memory layout, and its input."""
    torch.manual_seed(1)
    model = paper_cnn().eval()
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
            sm, x = frozen_infer(fmt, a.batch)
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
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    train = a.mode == "train"
    a.batch = a.batch or (64 if train else 1)
    a.steps = a.steps or (20 if train else 200)
    a.warmup = a.warmup if a.warmup is not None else (2 if train else 5)
    print(json.dumps(bench_train(a) if train else bench_infer(a)))


if __name__ == "__main__":
    main()
