// Why a track fits the target, as fer-recommend's table words it: each
// feature with its difference to the target, and a check mark when valence,
// energy and tempo are all within the tolerance band.

const shown = (x, scale) => Math.round(x * scale) / scale + 0; // no "-0"
const signed = (x, digits) => (x >= 0 ? '+' : '') + x.toFixed(digits);

export function whyItFits(track, target) {
  if (track.valence === undefined || track.energy === undefined || track.tempo === undefined) {
    return `no audio features known; popularity ${track.popularity ?? 'unknown'}`;
  }
  const dv = shown(track.valence - target.valence, 100);
  const de = shown(track.energy - target.energy, 100);
  const dt = shown(track.tempo - target.tempo, 1);
  const inBand = Math.abs(track.valence - target.valence) <= target.tol_valence
    && Math.abs(track.energy - target.energy) <= target.tol_energy
    && Math.abs(track.tempo - target.tempo) <= target.tol_tempo;
  return `valence ${track.valence.toFixed(2)} (${signed(dv, 2)}), energy ${track.energy.toFixed(2)} `
    + `(${signed(de, 2)}), ${track.tempo.toFixed(0)} BPM (${signed(dt, 0)})${inBand ? ' \u2713' : ''}`;
}
