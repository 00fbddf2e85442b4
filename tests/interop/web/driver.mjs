// Drives Debian's Chromium with playwright-core for tests/interop/browser.py.
//
//   node driver.mjs --url URL --user-data-dir DIR [--audio-file WAV] [--chromium PATH]
//
// Launches headless Chromium (never a downloaded browser) with a fresh profile, fake
// media devices and the page at URL, then answers one JSON request per stdin line:
//
//   {"id": 1, "method": "register", "args": [{...}]}
//   -> {"id": 1, "ok": true, "result": ...}   or   {"id": 1, "ok": false, "error": "..."}
//
// calling window.interop[method](...args) in the page. The first stdout line is
// {"ready": true, "browser": VERSION}. The page's console goes to stderr. stdin closed
// (or {"method": "close"}) closes the browser and exits.

import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const { values: options } = parseArgs({
  options: {
    url: { type: 'string' },
    'user-data-dir': { type: 'string' },
    'audio-file': { type: 'string' },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
  },
});
if (!options.url || !options['user-data-dir']) {
  process.stderr.write('usage: node driver.mjs --url URL --user-data-dir DIR [--audio-file WAV]\n');
  process.exit(2);
}

const args = [
  '--headless',
  '--no-sandbox', // root has no user namespace sandbox
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking', // this machine's network refuses Chromium's own calls
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-ui-for-media-stream', // grant getUserMedia without a prompt
  '--use-fake-device-for-media-stream',
  '--allow-loopback-in-peer-connection',
  '--autoplay-policy=no-user-gesture-required',
];
if (options['audio-file']) {
  // the fake microphone plays this file (looped) instead of Chromium's beep
  args.push(`--use-file-for-fake-audio-capture=${options['audio-file']}`);
}

function send(message) {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

const context = await chromium.launchPersistentContext(options['user-data-dir'], {
  executablePath: options.chromium,
  headless: true,
  args,
  // playwright mutes headless audio; the remote audio must play to be measured
  ignoreDefaultArgs: ['--mute-audio'],
  timeout: 30000,
});
const page = context.pages()[0] || (await context.newPage());
// JsSIP's `debug` output carries CSS colour directives (%c + one argument each): dropped.
const plain = (text) => text.replace(/%c/g, '').replace(/ ?color: (#[0-9A-Fa-f]{6}|inherit)/g, '');
page.on('console', (message) => process.stderr.write(`[page ${message.type()}] ${plain(message.text())}\n`));
page.on('pageerror', (error) => process.stderr.write(`[page error] ${error.stack || error}\n`));
page.on('crash', () => process.stderr.write('[page crashed]\n'));
await page.goto(options.url);
await page.waitForFunction(() => window.interop !== undefined, null, { timeout: 10000 });
send({ ready: true, browser: context.browser() ? context.browser().version() : 'chromium' });

let closing = false;
async function close(code) {
  if (closing) return;
  closing = true;
  await context.close().catch(() => {});
  process.exit(code);
}

const lines = createInterface({ input: process.stdin });
lines.on('line', async (line) => {
  let request;
  try {
    request = JSON.parse(line);
  } catch (error) {
    send({ id: null, ok: false, error: `bad request: ${error}` });
    return;
  }
  const { id, method, args: callArgs = [] } = request;
  if (method === 'close') {
    send({ id, ok: true, result: null });
    await close(0);
    return;
  }
  try {
    const result = await page.evaluate(
      ([name, values]) => window.interop[name](...values),
      [method, callArgs],
    );
    send({ id, ok: true, result: result === undefined ? null : result });
  } catch (error) {
    send({ id, ok: false, error: String(error && error.message ? error.message : error) });
  }
});
lines.on('close', () => close(0));
process.on('SIGTERM', () => close(0));
