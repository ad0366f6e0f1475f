// Exponential smoothing of the face's emotion probabilities over frames, so
// that the state shown does not flicker with every frame.
//
// With a time constant tau (seconds), a frame that arrives dt seconds after
// the previous one moves each probability by
//     p <- p + alpha * (frame - p),   alpha = 1 - exp(-dt / tau)
// so that the weight of what was seen decays as exp(-t / tau) whatever the
// frame rate (an irregular one included); after tau seconds of a new
// expression the shown probabilities have gone 63% of the way, after 3 tau
// 95%. The first frame is taken as it is. The result still sums to 1.

export const DEFAULT_TAU_SECONDS = 2;

export function smoothingWeight(dtSeconds, tauSeconds) {
  if (!(tauSeconds > 0)) return 1;
  return 1 - Math.exp(-Math.max(0, dtSeconds) / tauSeconds);
}

// previous: {name: p} or null (nothing seen yet); frame: {name: p}.
export function smoothProbabilities(previous, frame, dtSeconds, tauSeconds) {
  if (!previous) return { ...frame };
  const alpha = smoothingWeight(dtSeconds, tauSeconds);
  const out = {};
  for (const name of new Set([...Object.keys(previous), ...Object.keys(frame)])) {
    const p = previous[name] ?? 0;
    out[name] = p + alpha * ((frame[name] ?? 0) - p);
  }
  return out;
}

// The most probable name and its probability.
export function topEmotion(probs) {
  let best = null;
  for (const [name, p] of Object.entries(probs)) if (!best || p > best.p) best = { name, p };
  return best;
}
