#!/usr/bin/python3
"""Single-thread torch.mm and oneDNN sgemm GFLOP/s on fer-bench's GEMM
shapes, and the ratio of libfer's fastest path to each.

    /usr/bin/python3 bench/compare-gemm.py --ours build/bench/gemm.json

The JSON comes from `fer-bench gemm --json` (it lists the shapes, so both
sides time the same multiplies). Operands are laid out as libfer sees them:
a transposed operand is a .t() view of row-major storage, so torch gets the
same memory layout. Timing: best of 5 batches of at least 20 ms of the
thread's CPU time, as in fer-bench. Runs under /usr/bin/python3 (Debian's torch), not a pyenv python.

Debian's torch is built with BLAS_INFO=generic, so torch.mm runs the netlib
reference BLAS here. The optimised comparison is oneDNN's dnnl_sgemm (JIT
AVX-512, the library torch uses for its CPU convolutions), called through
ctypes from the libdnnl.so.2 that python3-torch depends on; its column is
left out when the library cannot be loaded.
"""
import os

os.environ["OMP_NUM_THREADS"] = "1"  # before torch/oneDNN start OpenMP

import argparse
import ctypes
import json
import sys
import time

try:
    import torch
except ImportError:
    sys.exit("compare-gemm.py: torch is missing; run it with /usr/bin/python3 "
             "(Debian's python3-torch)")


def seconds_per_call(fn):
    fn()
    reps = 1
    while True:
        t0 = time.thread_time()
        for _ in range(reps):
            fn()
        dt = time.thread_time() - t0
        if dt >= 0.02 or reps >= 1 << 20:
            break
        reps *= 2
    best = dt / reps
    for _ in range(4):
        t0 = time.thread_time()
        for _ in range(reps):
            fn()
        best = min(best, (time.thread_time() - t0) / reps)
    return best


def torch_gflops(s):
    m, n, k = s["M"], s["N"], s["K"]
    g = torch.Generator().manual_seed(42)
    a = torch.rand(k, m, generator=g).t() if s["ta"] else torch.rand(m, k, generator=g)
    b = torch.rand(n, k, generator=g).t() if s["tb"] else torch.rand(k, n, generator=g)
    c = torch.empty(m, n)
    dt = seconds_per_call(lambda: torch.mm(a, b, out=c))
    return 2.0 * m * n * k / dt / 1e9


def load_dnnl():
    try:
        lib = ctypes.CDLL("libdnnl.so.2")
    except OSError:
        return None
    fp = ctypes.POINTER(ctypes.c_float)
    i64 = ctypes.c_int64
    fn = lib.dnnl_sgemm
    fn.restype = ctypes.c_int
    fn.argtypes = [ctypes.c_char, ctypes.c_char, i64, i64, i64, ctypes.c_float, fp, i64, fp,
                   i64, ctypes.c_float, fp, i64]
    return fn


def dnnl_gflops(sgemm, s):
    """Row-major dnnl_sgemm with libfer's storage: A is K x M when ta."""
    m, n, k = s["M"], s["N"], s["K"]
    g = torch.Generator().manual_seed(42)
    a = torch.rand(k * m, generator=g)
    b = torch.rand(k * n, generator=g)
    c = torch.empty(m * n)
    fp = ctypes.POINTER(ctypes.c_float)
    pa, pb, pc = (ctypes.cast(t.data_ptr(), fp) for t in (a, b, c))
    ta, tb = (b"T" if s["ta"] else b"N"), (b"T" if s["tb"] else b"N")
    lda, ldb = (m if s["ta"] else k), (k if s["tb"] else n)
    args = (ta, tb, m, n, k, 1.0, pa, lda, pb, ldb, 0.0, pc, n)
    if sgemm(*args) != 0:
        return 0.0
    dt = seconds_per_call(lambda: sgemm(*args))
    return 2.0 * m * n * k / dt / 1e9


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ours", required=True, help="output of fer-bench gemm --json")
    args = ap.parse_args()
    try:
        with open(args.ours) as f:
            ours = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"compare-gemm.py: {args.ours}: {e}")
    torch.set_num_threads(1)
    paths = [p for p in ("ref", "c", "avx2", "avx512")
             if any(p in s["gflops"] for s in ours["shapes"])]
    peak = ours["peak_gflops"]
    print(f"single-thread GFLOP/s; FMA peak of one core: avx512 {peak['avx512']:.1f}, "
          f"avx2 {peak['avx2']:.1f}; torch {torch.__version__}, 1 thread")
    head = f"{'shape':<11} {'ta':>2} {'tb':>2} {'M':>5} {'N':>5} {'K':>5}"
    sgemm = load_dnnl()
    print(head + "".join(f" {p:>7}" for p in paths) + f" {'torch':>7} {'onednn':>7}"
          + f" {'ours/torch':>10} {'ours/onednn':>11}")
    ratios = {"torch": [], "onednn": []}
    for s in ours["shapes"]:
        t = torch_gflops(s)
        d = dnnl_gflops(sgemm, s) if sgemm else 0.0
        best = max(s["gflops"].get(p, 0) for p in paths if p != "ref")
        row = f"{s['name']:<11} {s['ta']:>2} {s['tb']:>2} {s['M']:>5} {s['N']:>5} {s['K']:>5}"
        row += "".join(f" {s['gflops'].get(p, 0):>7.1f}" for p in paths)
        row += f" {t:>7.1f} {d:>7.1f} {best / t:>10.2f}"
        ratios["torch"].append(best / t)
        if d > 0:
            ratios["onednn"].append(best / d)
            row += f" {best / d:>11.2f}"
        print(row)
    for name, rs in ratios.items():
        if rs:
            geo = 1.0
            for r in rs:
                geo *= r
            print(f"geometric mean ours/{name}: {geo ** (1 / len(rs)):.2f}")


if __name__ == "__main__":
    main()
