// The page: webcam frames (or a photo) to POST /v1/analyze, the face boxes
// and the smoothed state over the picture, a heart rate from a strap or a
// slider, and the playlist from POST /v1/recommend (docs/tools.md, "fer-serve").
import { connectHeartRateStrap } from './ble.mjs';
import { whyItFits } from './playlist.mjs';
import { DEFAULT_TAU_SECONDS, smoothProbabilities, topEmotion } from './smooth.mjs';

const FRAME_INTERVAL_MS = 500; // about two frames a second
const RECOMMEND_INTERVAL_MS = 2000; // the smoothed state is re-judged at most this often
const NO_FACE_RESET_MS = 4000; // after this long without a face, the state is forgotten
const PLAYLIST_LENGTH = 8;
const STRAP_READINGS = 10; // about ten seconds of a strap's 1 Hz notifications
const EMOTIONS = ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'];

const ui = Object.fromEntries([
  'status', 'video', 'photo', 'overlay', 'camera', 'upload', 'strap', 'use-bpm', 'bpm',
  'bpm-value', 'heart', 'mood', 'intensity', 'pick', 'follow', 'state', 'state-detail', 'bars',
  'playlist', 'tau',
].map((id) => [id.replace(/-(.)/g, (_, c) => c.toUpperCase()), document.getElementById(id)]));

const app = {
  mode: 'idle', // 'camera', 'photo' or 'manual'
  source: 'idle', // what 'Follow my face again' goes back to: 'camera', 'photo' or 'idle'
  smoothed: null, // the smoothed probabilities, null before a face
  lastFaceAt: 0,
  faces: [],
  stateFace: -1,
  frame: null, // {w, h} of the picture the faces were found in
  heart: null, // the last analysis's heart object
  strap: { bpm: null, readings: [] },
  sending: false,
  recommending: false,
  recommendedAt: -Infinity,
  stateLabel: '',
  playlistKey: '',
};

function setStatus(text, error = false) {
  ui.status.textContent = text;
  ui.status.classList.toggle('error', error);
}

async function answerOf(res) {
  const json = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(json.error || `the server answered ${res.status}`);
  return json;
}

// ------------------------------------------------------------ heart rate

function sliderBpm() {
  return ui.useBpm.checked ? Number(ui.bpm.value) : null;
}

// The heart-rate fields of an analysis: the strap's recent series, or one bpm.
function heartFields() {
  const series = app.strap.readings.map((r) => r.bpm);
  if (series.length >= 3) return { hr: series.join(',') };
  const bpm = app.strap.bpm ?? sliderBpm();
  return bpm ? { bpm: String(bpm) } : {};
}

function showHeart() {
  ui.bpmValue.textContent = ui.bpm.value;
  const bpm = app.strap.bpm ?? sliderBpm();
  ui.bpm.disabled = app.strap.bpm !== null;
  ui.heart.textContent = app.strap.bpm !== null ? `${app.strap.bpm} bpm from the strap`
    : bpm ? `${bpm} bpm from the slider` : 'No heart rate.';
}

function onStrapReading(m) {
  if (!m.bpm) return; // 0: no contact yet
  app.strap.bpm = m.bpm;
  app.strap.readings = [...app.strap.readings, { bpm: m.bpm }].slice(-STRAP_READINGS);
  showHeart();
}

async function connectStrap() {
  if (!navigator.bluetooth) {
    setStatus('This browser has no Web Bluetooth (Chrome or Edge have it): use the slider.', true);
    return;
  }
  try {
    const device = await connectHeartRateStrap(navigator.bluetooth, onStrapReading);
    device.addEventListener('gattserverdisconnected', () => {
      app.strap = { bpm: null, readings: [] };
      setStatus('The strap disconnected.');
      showHeart();
    });
    setStatus(`Connected to ${device.name || 'the strap'}.`);
  } catch (e) {
    setStatus(`Heart-rate strap: ${e.message}`, true);
  }
}

// ------------------------------------------------------------ drawing

// The faces of the last analysis over the picture; none while a mood is picked by hand.
function draw() {
  const c = ui.overlay;
  const g = c.getContext('2d');
  g.clearRect(0, 0, c.width, c.height);
  if (!app.frame || app.mode === 'manual') return;
  c.width = app.frame.w;
  c.height = app.frame.h;
  const line = Math.max(2, Math.round(app.frame.w / 200));
  g.font = `${Math.max(14, Math.round(app.frame.w / 32))}px system-ui, sans-serif`;
  g.textBaseline = 'bottom';
  app.faces.forEach((f, i) => {
    const [x, y, w, h] = f.box;
    const main = i === app.stateFace;
    const label = main && app.stateLabel ? app.stateLabel
      : `${f.emotion} ${Math.round(100 * f.confidence)}%`;
    g.strokeStyle = main ? '#22c55e' : '#facc15';
    g.lineWidth = line;
    g.strokeRect(x, y, w, h);
    const tw = g.measureText(label).width + 2 * line;
    const th = parseInt(g.font, 10) + line;
    const ty = y - th >= 0 ? y : y + h + th; // above the box, or below it at the top edge
    g.fillStyle = 'rgba(0, 0, 0, 0.65)';
    g.fillRect(x, ty - th, tw, th);
    g.fillStyle = '#fff';
    g.fillText(label, x + line, ty - line / 2);
  });
}

function showBars() {
  ui.bars.replaceChildren();
  if (!app.smoothed || app.mode === 'manual') return;
  for (const name of EMOTIONS.filter((n) => n in app.smoothed)) {
    const p = app.smoothed[name];
    const label = document.createElement('span');
    const track = document.createElement('span');
    const bar = document.createElement('div');
    const num = document.createElement('span');
    label.textContent = name;
    bar.className = 'bar';
    bar.style.width = `${(100 * p).toFixed(1)}%`;
    track.append(bar);
    num.className = 'num';
    num.textContent = `${Math.round(100 * p)}%`;
    ui.bars.append(label, track, num);
  }
}

// ------------------------------------------------------------ the playlist

function strategy() {
  return document.querySelector('input[name=strategy]:checked').value;
}

function recommendBody() {
  const body = { strategy: strategy(), limit: PLAYLIST_LENGTH };
  if (app.mode === 'manual') {
    body.emotion = ui.mood.value;
    body.intensity = Number(ui.intensity.value);
    const bpm = app.strap.bpm ?? sliderBpm();
    if (bpm) body.bpm = bpm;
  } else {
    body.probabilities = app.smoothed;
    if (app.heart) body.heart = app.heart;
  }
  return body;
}

function showPlaylist(answer) {
  ui.playlist.replaceChildren(...answer.tracks.map((t) => {
    const li = document.createElement('li');
    const a = document.createElement('a');
    const why = document.createElement('span');
    a.className = 'title';
    a.href = t.url;
    a.target = '_blank';
    a.rel = 'noopener noreferrer';
    a.textContent = t.title;
    why.className = 'why';
    why.textContent = whyItFits(t, answer.target);
    li.append(a, ` \u2014 ${t.artist} (${(t.genres ?? []).join(', ')})`, why);
    return li;
  }));
}

function showRecommendation(answer) {
  const s = answer.state;
  app.stateLabel = s.label;
  ui.state.textContent = s.label;
  ui.stateDetail.textContent = `valence ${s.valence.toFixed(2)}, arousal ${s.arousal.toFixed(2)}`
    + (answer.heart ? `; heart ${Math.round(answer.heart.bpm)} bpm (${answer.heart.level})` : '');
  const key = `${s.label}|${answer.strategy}`;
  if (key !== app.playlistKey) { // a new state or strategy: a new playlist
    app.playlistKey = key;
    showPlaylist(answer);
  }
  draw();
}

async function recommend(force = false) {
  if (app.mode !== 'manual' && !app.smoothed) return;
  const now = performance.now();
  if (app.recommending || (!force && now - app.recommendedAt < RECOMMEND_INTERVAL_MS)) return;
  app.recommending = true;
  app.recommendedAt = now;
  try {
    showRecommendation(await answerOf(await fetch('/v1/recommend', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(recommendBody()),
    })));
  } catch (e) {
    setStatus(`Recommendation: ${e.message}`, true);
  } finally {
    app.recommending = false;
  }
}

// ------------------------------------------------------------ analysis

// One analysis of a picture of size frame, taken at time t (ms); smooth: fold
// it into the running probabilities (camera), else take it as it is (photo).
function onAnalysis(result, frame, t, smooth) {
  app.faces = result.faces;
  app.stateFace = result.state ? result.state.face : -1;
  app.frame = frame;
  app.heart = result.heart;
  if (result.state) {
    const probs = result.faces[result.state.face].probabilities;
    app.smoothed = smooth ? smoothProbabilities(app.smoothed, probs, (t - app.lastFaceAt) / 1000,
      DEFAULT_TAU_SECONDS) : { ...probs };
    app.lastFaceAt = t;
    const top = topEmotion(app.smoothed);
    setStatus(`Face found: ${top.name} ${Math.round(100 * top.p)}% (smoothed).`);
  } else {
    setStatus('No face found: face the camera, in good light.');
    if (t - app.lastFaceAt > NO_FACE_RESET_MS) app.smoothed = null;
  }
  showBars();
  draw();
  recommend(!smooth);
}

async function sendFrame(grab) {
  const v = ui.video;
  const frame = { w: v.videoWidth, h: v.videoHeight };
  grab.width = frame.w;
  grab.height = frame.h;
  grab.getContext('2d').drawImage(v, 0, 0, frame.w, frame.h);
  const jpeg = await new Promise((done) => grab.toBlob(done, 'image/jpeg', 0.85));
  const query = new URLSearchParams(heartFields()).toString();
  const t = performance.now();
  const result = await answerOf(await fetch(`/v1/analyze${query ? `?${query}` : ''}`, {
    method: 'POST', headers: { 'Content-Type': 'image/jpeg' }, body: jpeg,
  }));
  if (app.mode === 'camera') onAnalysis(result, frame, t, true);
}

function frameLoop() {
  const grab = document.createElement('canvas');
  setInterval(() => {
    if (app.mode !== 'camera' || app.sending || !ui.video.videoWidth) return;
    app.sending = true;
    sendFrame(grab).catch((e) => setStatus(`Analysis: ${e.message}`, true))
      .finally(() => { app.sending = false; });
  }, FRAME_INTERVAL_MS);
}

function setMode(mode) {
  app.mode = mode;
  if (mode !== 'manual') {
    app.source = mode;
    ui.video.hidden = mode === 'photo';
    ui.photo.hidden = mode !== 'photo';
  }
  ui.follow.hidden = mode !== 'manual';
  showBars();
  draw();
}

async function startCamera() {
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
    ui.video.srcObject = stream;
    await ui.video.play();
    app.smoothed = null;
    setMode('camera');
    setStatus('Camera on: looking for a face.');
  } catch (e) {
    setStatus(`Camera: ${e.message} (upload a photo or pick a mood instead)`, true);
  }
}

function stopCamera() {
  for (const track of ui.video.srcObject?.getTracks() ?? []) track.stop();
  ui.video.srcObject = null;
}

async function analyzePhoto() {
  const file = ui.upload.files[0];
  ui.upload.value = '';
  if (!file) return;
  stopCamera();
  setMode('photo');
  URL.revokeObjectURL(ui.photo.src);
  ui.photo.src = URL.createObjectURL(file);
  const form = new FormData();
  form.append('image', file);
  for (const [k, v] of Object.entries(heartFields())) form.append(k, v);
  try {
    await ui.photo.decode();
    const result = await answerOf(await fetch('/v1/analyze', { method: 'POST', body: form }));
    onAnalysis(result, { w: ui.photo.naturalWidth, h: ui.photo.naturalHeight }, performance.now(), false);
    if (!result.state) setStatus('No face found in the photo: try another, or pick a mood.');
  } catch (e) {
    setStatus(`Photo: ${e.message}`, true);
  }
}

function pickMood() {
  setMode('manual');
  setStatus(`Mood picked by hand: ${ui.mood.selectedOptions[0].text}. `
    + "The face is not followed until 'Follow my face again'.");
  recommend(true);
}

function follow() {
  setMode(app.source);
  setStatus(app.source === 'idle' ? 'Start the camera or upload a photo.' : 'Following the face again.');
  recommend(true);
}

async function greet() {
  try {
    const h = await answerOf(await fetch('/v1/health'));
    setStatus(`fer-serve ${h.version}, model ${h.model}, ${h.tracks} tracks: start the camera, `
      + 'upload a photo or pick a mood.');
  } catch (e) {
    setStatus(`The server does not answer: ${e.message}`, true);
  }
}

ui.tau.textContent = String(DEFAULT_TAU_SECONDS);
ui.camera.addEventListener('click', startCamera);
ui.upload.addEventListener('change', analyzePhoto);
ui.strap.addEventListener('click', connectStrap);
ui.bpm.addEventListener('input', showHeart);
ui.useBpm.addEventListener('change', showHeart);
ui.pick.addEventListener('click', pickMood);
ui.follow.addEventListener('click', follow);
for (const r of document.querySelectorAll('input[name=strategy]')) r.addEventListener('change', () => recommend(true));
showHeart();
frameLoop();
greet();
