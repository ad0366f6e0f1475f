// Unit tests of the web page's pure functions (node --test; no browser):
// the Heart Rate Measurement parser, the probability smoothing and the
// "why it fits" text. tests/sh/web.sh runs them.
import assert from 'node:assert/strict';
import test from 'node:test';

import { parseHeartRateMeasurement as parse } from '../../web/ble.mjs';
import { whyItFits } from '../../web/playlist.mjs';
import { smoothProbabilities, smoothingWeight, topEmotion } from '../../web/smooth.mjs';

const bytes = (...b) => new Uint8Array(b);
const close = (a, b, eps = 1e-9) => assert.ok(Math.abs(a - b) <= eps, `${a} != ${b}`);

test('uint8 heart rate, no other fields', () => {
  assert.deepEqual(parse(bytes(0x00, 72)), { bpm: 72, contact: null, rrMs: [] });
});

test('uint16 heart rate is little-endian', () => {
  assert.equal(parse(bytes(0x01, 0x2c, 0x01)).bpm, 300); // 0x012C
  assert.equal(parse(bytes(0x01, 75, 0)).bpm, 75);
});

test('sensor contact: supported and detected, supported and not, unsupported', () => {
  assert.equal(parse(bytes(0x06, 60)).contact, true);
  assert.equal(parse(bytes(0x04, 60)).contact, false);
  assert.equal(parse(bytes(0x02, 60)).contact, null);
});

test('RR intervals in 1/1024 s become milliseconds', () => {
  // flags 0x10: uint8 rate 64, RR 1024 (1 s) and 512 (0.5 s)
  const m = parse(bytes(0x10, 64, 0x00, 0x04, 0x00, 0x02));
  assert.equal(m.bpm, 64);
  assert.deepEqual(m.rrMs, [1000, 500]);
});

test('uint16 rate, energy expended skipped, then RR intervals', () => {
  // flags 0x19 = uint16 | energy | RR: rate 0x0050 (80), energy 0x1234, RR 768 (750 ms)
  const m = parse(bytes(0x19, 0x50, 0x00, 0x34, 0x12, 0x00, 0x03));
  assert.equal(m.bpm, 80);
  assert.deepEqual(m.rrMs, [750]);
});

test('energy expended without RR: nothing else is read', () => {
  assert.deepEqual(parse(bytes(0x08, 90, 0xff, 0xff)), { bpm: 90, contact: null, rrMs: [] });
});

test('a DataView with an offset (as Web Bluetooth gives) is read where it starts', () => {
  const buf = bytes(0xaa, 0xbb, 0x10, 70, 0x00, 0x04).buffer;
  const m = parse(new DataView(buf, 2));
  assert.equal(m.bpm, 70);
  assert.deepEqual(m.rrMs, [1000]);
  assert.equal(parse(buf.slice(2)).bpm, 70); // an ArrayBuffer too
});

test('values too short for their flags are refused', () => {
  assert.throws(() => parse(bytes()), RangeError);
  assert.throws(() => parse(bytes(0x01, 70)), RangeError); // uint16 rate, one byte
  assert.throws(() => parse(bytes(0x08, 70, 1)), RangeError); // energy field cut
  assert.throws(() => parse(bytes(0x10, 70, 1)), RangeError); // half an RR interval
});

test('smoothing weight: 1 - exp(-dt/tau)', () => {
  close(smoothingWeight(2, 2), 1 - Math.exp(-1));
  close(smoothingWeight(0, 2), 0);
  close(smoothingWeight(-1, 2), 0); // a clock going back changes nothing
  close(smoothingWeight(1, 0), 1); // no smoothing
});

test('the first frame is taken as it is; later ones move by the weight', () => {
  const a = { happy: 1, sad: 0 };
  const b = { happy: 0, sad: 1 };
  assert.deepEqual(smoothProbabilities(null, a, 0.5, 2), a);
  const s = smoothProbabilities(a, b, 2, 2);
  close(s.happy, Math.exp(-1));
  close(s.happy + s.sad, 1);
});

test('the time constant does not depend on the frame rate', () => {
  const a = { happy: 1, sad: 0 };
  const b = { happy: 0, sad: 1 };
  let fast = a;
  for (let i = 0; i < 10; i++) fast = smoothProbabilities(fast, b, 0.1, 2); // 10 frames in 1 s
  const slow = smoothProbabilities(a, b, 1, 2); // 1 frame in 1 s
  close(fast.happy, slow.happy, 1e-12);
  assert.deepEqual(topEmotion(slow).name, 'happy');
  assert.deepEqual(topEmotion(smoothProbabilities(slow, b, 3, 2)).name, 'sad');
});

test('why it fits: differences as fer-recommend shows them, check mark inside the band', () => {
  const target = { valence: 0.22, energy: 0.289, tempo: 74.895, tol_valence: 0.15, tol_energy: 0.15, tol_tempo: 15 };
  const t = { valence: 0.269, energy: 0.322, tempo: 76.604 };
  assert.equal(whyItFits(t, target), 'valence 0.27 (+0.05), energy 0.32 (+0.03), 77 BPM (+2) \u2713');
  assert.equal(whyItFits({ valence: 0.9, energy: 0.289, tempo: 74.895 }, target),
    'valence 0.90 (+0.68), energy 0.29 (+0.00), 75 BPM (+0)');
  assert.equal(whyItFits({ popularity: 40 }, target), 'no audio features known; popularity 40');
});
