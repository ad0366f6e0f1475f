#!/usr/bin/env node
// onnxruntime's side of bench/compare-onnxruntime: times one ONNX model as
// `fer-bench infer` times libfer, and prints one JSON line with the same keys.
// Benchmark-only code, never part of the product.
//
// usage: node bench/ort_bench.js --ort DIR --model M.onnx --input X.f32
//            [--batch 1] [--iters 200] [--warmup 5] [--threads 1] [--output P.f32]
//            [--api-iters N]
//
// DIR is the npm prefix onnxruntime-node is installed under (its node_modules).
// X.f32 holds at least batch preprocessed 1x48x48 images as raw float32; the
// first batch of them is fed every call. P.f32 receives the outputs of the
// last call (raw float32). Each call is timed by the wall clock and by the
// process's CPU time (process.cpuUsage), median of iters after warmup calls.
//
// The call timed is the binding's own synchronous run (what
// InferenceSession.run reaches after a setImmediate hop), so the figure is
// onnxruntime's work plus the N-API crossing, without the event-loop turn;
// `api_ms_median` is the public `await session.run()` for comparison.
'use strict';
const fs = require('fs');
const path = require('path');

function parseArgs(argv) {
  const a = {batch: 1, iters: 200, warmup: 5, threads: 1};
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, ''), v = argv[i + 1];
    if (v === undefined || !['ort', 'model', 'input', 'output', 'batch', 'iters', 'warmup',
      'threads', 'api-iters'].includes(k)) {
      throw new Error(`bad option ${argv[i]}`);
    }
    a[k] = ['ort', 'model', 'input', 'output'].includes(k) ? v : parseInt(v, 10);
  }
  if (!a.ort || !a.model || !a.input) throw new Error('--ort, --model and --input are required');
  return a;
}

function median(xs) {
  const s = [...xs].sort((p, q) => p - q);
  return s[s.length >> 1];
}

function cpuMs() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e3;
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const mods = path.resolve(a.ort, 'node_modules');
  const ort = require(path.join(mods, 'onnxruntime-node'));
  const {binding} = require(path.join(mods, 'onnxruntime-node', 'dist', 'binding'));
  const opts = {
    intraOpNumThreads: a.threads, interOpNumThreads: 1, executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  };
  const px = 48 * 48;
  const raw = fs.readFileSync(a.input);
  if (raw.length < a.batch * px * 4) throw new Error(`${a.input}: fewer than ${a.batch} images`);
  const x = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + a.batch * px * 4));
  const feeds = {x: new ort.Tensor('float32', x, [a.batch, 1, 48, 48])};

  const native = new binding.InferenceSession();
  native.loadModel(a.model, opts);
  const fetches = {};
  for (const n of native.outputNames) fetches[n] = null;
  let out = null;
  const lat = [], cpu = [];
  let wall0 = 0n, cpu0 = 0;
  for (let s = 0; s < a.warmup + a.iters; s++) {
    if (s === a.warmup) {
      wall0 = process.hrtime.bigint();
      cpu0 = cpuMs();
    }
    const t = process.hrtime.bigint(), c = cpuMs();
    out = native.run(feeds, fetches, {});
    if (s >= a.warmup) {
      lat.push(Number(process.hrtime.bigint() - t) / 1e6);
      cpu.push(cpuMs() - c);
    }
  }
  const wall = Number(process.hrtime.bigint() - wall0) / 1e6;
  const cpuPerWall = (cpuMs() - cpu0) / wall;
  const total = lat.reduce((p, q) => p + q, 0), totalCpu = cpu.reduce((p, q) => p + q, 0);
  const probs = out[native.outputNames[0]].data;
  if (a.output) fs.writeFileSync(a.output, Buffer.from(probs.buffer, probs.byteOffset, probs.byteLength));

  // The public API, a few calls, for the cost of its event-loop hop.
  const api = [];
  const apiIters = a['api-iters'] !== undefined ? a['api-iters'] : Math.min(a.iters, 50);
  const session = apiIters > 0 ? await ort.InferenceSession.create(a.model, opts) : null;
  for (let s = 0; apiIters > 0 && s < 3 + apiIters; s++) {
    const t = process.hrtime.bigint();
    await session.run(feeds);
    if (s >= 3) api.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  const sorted = [...lat].sort((p, q) => p - q);
  console.log(JSON.stringify({
    batch: a.batch, threads: a.threads, iters: a.iters,
    latency_ms_median: +median(lat).toFixed(3),
    latency_ms_p95: +sorted[Math.floor(0.95 * (sorted.length - 1))].toFixed(3),
    images_per_s: +(a.batch * lat.length / (total * 1e-3)).toFixed(1),
    cpu_ms_median: +median(cpu).toFixed(3),
    images_per_cpu_s: +(a.batch * cpu.length / (totalCpu * 1e-3)).toFixed(1),
    cpu_per_wall: +cpuPerWall.toFixed(2),
    api_ms_median: api.length ? +median(api).toFixed(3) : null,
    peak_rss_mb: +(process.resourceUsage().maxRSS / 1024).toFixed(1),
    ort_version: ort.env.versions.node || ort.env.versions.common,
  }));
}

main().catch((e) => {
  console.error(`ort_bench.js: ${e.message}`);
  process.exit(1);
});
