// The web page end to end in Debian's chromium, driven by playwright-core
// (tests/sh/browser.sh starts fer-serve and makes the fake camera's video).
//
// usage: node page.test.mjs URL FACE.png FAKE.y4m OUT_DIR
//
// The fake camera shows FACE.png (the shipped demo photo). The page must find
// the face, draw its box, show the state the server gives for the photo's
// probabilities and a playlist of Spotify links; with the BPM slider the
// heart rate reaches the state; an uploaded photo and a picked mood give their
// own state and playlist. Screenshots go to OUT_DIR. Exit status 1 on failure.
import { readFile } from 'node:fs/promises';
import { chromium } from 'playwright-core';

const [url, facePath, y4m, outDir] = process.argv.slice(2);
const TIMEOUT = 30000;
let failures = 0;

function check(ok, what) {
  if (!ok) {
    failures++;
    console.log(`page.test.mjs: FAIL: ${what}`);
  }
}

// What the server itself says about the photo: its face and the state of its probabilities.
async function expected() {
  const face = await readFile(facePath);
  const analysis = await (await fetch(`${url}v1/analyze`, {
    method: 'POST', headers: { 'Content-Type': 'image/png' }, body: face,
  })).json();
  const f = analysis.faces[analysis.state.face];
  const rec = await (await fetch(`${url}v1/recommend`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ probabilities: f.probabilities }),
  })).json();
  return { box: f.box, label: rec.state.label };
}

// 1 when the overlay has the state face's green frame on the top edge of box.
function greenEdge(box) {
  const c = document.getElementById('overlay');
  const g = c.getContext('2d');
  const [x, y, w] = box;
  const px = g.getImageData(x + Math.round(w / 2), Math.max(0, y - 6), 1, 13).data;
  for (let i = 0; i < px.length; i += 4) {
    if (px[i] < 80 && px[i + 1] > 150 && px[i + 2] < 140 && px[i + 3] > 200) return true;
  }
  return false;
}

async function playlist(page) {
  return page.$$eval('#playlist li', (items) => items.map((li) => ({
    href: li.querySelector('a').href, title: li.querySelector('a').textContent,
    why: li.querySelector('.why').textContent,
  })));
}

async function main() {
  const want = await expected();
  console.log(`page.test.mjs: the server's state for the photo: ${want.label}, box ${want.box}`);
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
      `--use-file-for-fake-video-capture=${y4m}`],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  await page.goto(url);
  await page.waitForFunction(() => document.getElementById('status').textContent.includes('fer-serve'),
    null, { timeout: TIMEOUT });

  // The camera: the face box, the smoothed state, the playlist.
  await page.click('#camera');
  await page.waitForFunction((label) => document.getElementById('state').textContent === label,
    want.label, { timeout: TIMEOUT }).catch(() => {});
  const state = await page.textContent('#state');
  check(state === want.label, `camera: state '${state}', expected '${want.label}'`);
  await page.waitForFunction(() => document.querySelectorAll('#playlist li').length === 8, null,
    { timeout: TIMEOUT }).catch(() => {});
  const tracks = await playlist(page);
  check(tracks.length === 8, `camera: ${tracks.length} tracks, expected 8`);
  check(tracks.every((t) => /^https:\/\/open\.spotify\.com\/track\/[0-9A-Za-z]+$/.test(t.href) && t.title
    && /^valence \d\.\d\d \([+-]\d\.\d\d\), energy/.test(t.why)), `camera: track rows ${JSON.stringify(tracks[0])}`);
  check(await page.$$eval('#bars .bar', (b) => b.length) === 7, 'camera: not 7 probability bars');
  check(await page.evaluate(greenEdge, want.box), `camera: no green box drawn at ${want.box}`);
  await page.screenshot({ path: `${outDir}/page-camera.png`, fullPage: true });

  // The BPM slider: the heart rate reaches the state.
  await page.check('#use-bpm');
  await page.$eval('#bpm', (el) => { el.value = '130'; el.dispatchEvent(new Event('input')); });
  await page.waitForFunction(() => document.getElementById('state-detail').textContent.includes('heart 130 bpm'),
    null, { timeout: TIMEOUT }).catch(() => {});
  const detail = await page.textContent('#state-detail');
  check(detail.includes('heart 130 bpm (high)'), `slider: state detail '${detail}'`);
  await page.screenshot({ path: `${outDir}/page-camera-bpm.png`, fullPage: true });
  await page.uncheck('#use-bpm');

  // A photo upload (a multipart form): the photo's state.
  await page.setInputFiles('#upload', facePath);
  await page.waitForFunction(() => !document.getElementById('photo').hidden, null, { timeout: TIMEOUT });
  await page.waitForFunction((label) => document.getElementById('state').textContent === label
    && !document.getElementById('state-detail').textContent.includes('heart'), want.label,
  { timeout: TIMEOUT }).catch(() => {});
  check(await page.textContent('#state') === want.label, `upload: state '${await page.textContent('#state')}'`);

  // A mood picked by hand, then the other strategy: a new state and playlist each time.
  await page.selectOption('#mood', 'sad');
  await page.click('#pick');
  await page.waitForFunction(() => /sad/i.test(document.getElementById('state').textContent), null,
    { timeout: TIMEOUT }).catch(() => {});
  const sad = await page.textContent('#state');
  check(/sad/i.test(sad), `mood pick: state '${sad}'`);
  const matched = await playlist(page);
  await page.check('input[name=strategy][value=uplift]');
  await page.waitForFunction((first) => document.querySelector('#playlist li a')?.href !== first,
    matched[0]?.href, { timeout: TIMEOUT }).catch(() => {});
  const lifted = await playlist(page);
  check(lifted.length === 8 && lifted[0].href !== matched[0]?.href, 'uplift: the playlist did not change');
  await page.screenshot({ path: `${outDir}/page-mood-uplift.png`, fullPage: true });

  check(!(await page.$eval('#status', (s) => s.classList.contains('error'))),
    `the page shows an error: ${await page.textContent('#status')}`);
  check(errors.length === 0, `console errors: ${errors.join(' | ')}`);
  await browser.close();
  console.log(`page.test.mjs: camera state '${state}', ${tracks.length} tracks (first: ${tracks[0]?.title}); `
    + `mood pick '${sad}'; screenshots in ${outDir}`);
}

main().then(() => process.exit(failures ? 1 : 0), (e) => {
  console.log(`page.test.mjs: FAIL: ${e.stack || e}`);
  process.exit(1);
});
