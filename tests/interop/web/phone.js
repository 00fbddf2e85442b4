// The page's phone: one JsSIP UA and one call at a time, driven by the test through
// window.interop. Every method returns a promise of JSON-serialisable data (the driver
// calls them with playwright's page.evaluate).
//
// What the page observes, for the test to check:
// - `log`: every UA and session event, in order (registered, newRTCSession, accepted,
//   confirmed, ended, failed, dtmf-info, info, dtmf-audio...);
// - `dtmfInfo`: keys JsSIP reported with `newDTMF` (SIP INFO application/dtmf-relay);
// - `dtmfAudio`: keys heard in the remote audio. A browser gives no event for RFC 4733
//   telephone-events it receives, but its jitter buffer (NetEq) plays them out as the
//   key's two tones: a Goertzel meter on the remote stream hears them;
// - `hearing(f)`: how much of the remote audio sits at frequency f;
// - `audioStats()`: RTCPeerConnection.getStats() of the call's audio.

/* global JsSIP */

const DTMF_LOW = [697, 770, 852, 941];
const DTMF_HIGH = [1209, 1336, 1477, 1633];
const KEYPAD = [
  ['1', '2', '3', 'A'],
  ['4', '5', '6', 'B'],
  ['7', '8', '9', 'C'],
  ['*', '0', '#', 'D'],
];
const METER_WINDOW_MS = 40;
const METER_HOP_MS = 20;
const METER_KEEP = 500; // windows: the last 10 s
const KEY_MIN_RATIO = 0.2; // each of a key's tones carries about 0.5 of the power
const KEY_MIN_MEAN_SQUARE = 1e-5; // -50 dBFS
const KEY_WINDOWS = 2; // consecutive windows before a key (or its end) counts

const state = {
  ua: null,
  session: null,
  answerOptions: null,
  log: [],
  waiters: [],
  dtmfInfo: [],
  dtmfAudio: [],
  infos: [],
  sdp: {},
  probes: [],
  meter: null,
  metering: true,
  remote: document.getElementById('remote'),
};

function setStatus(text) {
  document.getElementById('status').textContent = text;
}

function record(what, detail = {}) {
  const entry = { t: Math.round(performance.now()), what, ...detail };
  state.log.push(entry);
  console.log(`[interop] ${what} ${JSON.stringify(detail)}`);
  for (const waiter of [...state.waiters]) waiter.check();
}

/** Resolve with the `count`-th log entry named `what`, waiting up to `timeoutMs`. */
function waitFor(what, timeoutMs = 10000, count = 1) {
  return new Promise((resolve, reject) => {
    const waiter = {
      check() {
        const found = state.log.filter((entry) => entry.what === what);
        if (found.length >= count) {
          finish();
          resolve(found[count - 1]);
        }
      },
    };
    const timer = setTimeout(() => {
      finish();
      const seen = state.log.map((entry) => entry.what).join(', ');
      reject(new Error(`no ${what} (x${count}) within ${timeoutMs} ms; seen: ${seen}`));
    }, timeoutMs);
    function finish() {
      clearTimeout(timer);
      state.waiters = state.waiters.filter((w) => w !== waiter);
    }
    state.waiters.push(waiter);
    waiter.check();
  });
}

// ------------------------------------------------------------------ remote audio

async function startMeter(stream) {
  stopMeter();
  const context = new AudioContext({ sampleRate: 48000 });
  const meter = { context, windows: [], candidate: null, run: 0, current: null };
  state.meter = meter;
  await context.audioWorklet.addModule('/tone-meter.js');
  const frequencies = [...DTMF_LOW, ...DTMF_HIGH, ...state.probes];
  const node = new AudioWorkletNode(context, 'tone-meter', {
    processorOptions: { frequencies, windowMs: METER_WINDOW_MS, hopMs: METER_HOP_MS },
  });
  const silent = context.createGain();
  silent.gain.value = 0;
  context.createMediaStreamSource(stream).connect(node).connect(silent).connect(context.destination);
  node.port.onmessage = ({ data }) => onMeterWindow(meter, frequencies, data);
  await context.resume();
  record('meter-started', { sampleRate: context.sampleRate });
}

function stopMeter() {
  if (state.meter) {
    state.meter.context.close().catch(() => {});
    state.meter = null;
  }
}

function strongest(frequencies, ratioOf) {
  let best = { index: -1, ratio: 0 };
  frequencies.forEach((f, index) => {
    const ratio = ratioOf(f);
    if (ratio > best.ratio) best = { index, ratio };
  });
  return best;
}

function onMeterWindow(meter, frequencies, { time, meanSquare, ratios }) {
  const byFrequency = Object.fromEntries(frequencies.map((f, i) => [f, ratios[i]]));
  meter.windows.push({ time, meanSquare, ratios: byFrequency });
  if (meter.windows.length > METER_KEEP) meter.windows.shift();

  // A key: one low and one high DTMF tone, each a good share of a loud enough block,
  // for KEY_WINDOWS blocks in a row; the same key again only after a gap.
  const low = strongest(DTMF_LOW, (f) => byFrequency[f]);
  const high = strongest(DTMF_HIGH, (f) => byFrequency[f]);
  const key =
    meanSquare > KEY_MIN_MEAN_SQUARE && low.ratio > KEY_MIN_RATIO && high.ratio > KEY_MIN_RATIO
      ? KEYPAD[low.index][high.index]
      : null;
  if (key === meter.candidate) {
    meter.run += 1;
  } else {
    meter.candidate = key;
    meter.run = 1;
  }
  if (meter.run === KEY_WINDOWS) {
    if (key !== null && key !== meter.current) {
      state.dtmfAudio.push(key);
      record('dtmf-audio', { digit: key, low: low.ratio, high: high.ratio });
    }
    meter.current = key;
  }
}

function onRemoteTrack(event) {
  if (event.track.kind !== 'audio') return;
  const stream = event.streams[0] || new MediaStream([event.track]);
  record('remote-track', { id: event.track.id });
  // Chrome renders (and reports audioLevel for) remote WebRTC audio that something
  // plays: the <audio> element does; the meter taps the same stream.
  state.remote.srcObject = stream;
  state.remote.play().catch((error) => record('play-failed', { error: String(error) }));
  if (state.metering) {
    startMeter(stream).catch((error) => record('meter-failed', { error: String(error) }));
  }
}

const watched = new WeakSet();

function watchConnection(pc) {
  if (!pc || watched.has(pc)) return;
  watched.add(pc);
  pc.addEventListener('track', onRemoteTrack);
  pc.addEventListener('iceconnectionstatechange', () =>
    record('ice', { state: pc.iceConnectionState }));
}

// ------------------------------------------------------------------ sessions

function mediaOptions() {
  return {
    // The fake microphone's tone goes out as it is: Chromium's audio processing
    // (echo cancellation, noise suppression, gain control) treats a steady tone as
    // noise and fades it out within seconds.
    mediaConstraints: {
      audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
      video: false,
    },
    pcConfig: { iceServers: [] },
  };
}

function onNewSession({ originator, session }) {
  state.session = session;
  state.dtmfInfo = [];
  state.dtmfAudio = [];
  state.infos = [];
  state.sdp = {};
  record('newRTCSession', {
    originator,
    remote: session.remote_identity.uri.toString(),
  });
  session.on('peerconnection', ({ peerconnection }) => watchConnection(peerconnection));
  watchConnection(session.connection);
  session.on('sdp', ({ originator: side, type, sdp }) => {
    state.sdp[`${side}-${type}`] = sdp;
  });
  session.on('progress', ({ originator: side }) => record('progress', { originator: side }));
  session.on('accepted', ({ originator: side }) => record('accepted', { originator: side }));
  session.on('confirmed', ({ originator: side }) => record('confirmed', { originator: side }));
  session.on('ended', ({ originator: side, cause }) => {
    record('ended', { originator: side, cause });
    stopMeter();
  });
  session.on('failed', ({ originator: side, cause }) => {
    record('failed', { originator: side, cause });
    stopMeter();
  });
  session.on('hold', ({ originator: side }) => record('hold', { originator: side }));
  session.on('unhold', ({ originator: side }) => record('unhold', { originator: side }));
  session.on('newDTMF', ({ originator: side, dtmf }) => {
    if (side !== 'remote') return;
    state.dtmfInfo.push(dtmf.tone);
    record('dtmf-info', { digit: dtmf.tone, duration: dtmf.duration });
  });
  session.on('newInfo', ({ originator: side, info }) => {
    if (side !== 'remote') return;
    state.infos.push({ contentType: info.contentType, body: info.body });
    record('info', { contentType: info.contentType });
  });
  if (originator === 'remote' && state.answerOptions) {
    record('answering');
    session.answer(state.answerOptions);
  }
}

// ------------------------------------------------------------------ the API

window.interop = {
  /** Start a UA, register, and resolve once registered. */
  async register({ wsUrl, uri, password, displayName, expires = 60, debug = false }) {
    if (debug) JsSIP.debug.enable('JsSIP:*');
    const socket = new JsSIP.WebSocketInterface(wsUrl);
    const ua = new JsSIP.UA({
      sockets: [socket],
      uri,
      password,
      display_name: displayName,
      register: true,
      register_expires: expires,
      user_agent: `JsSIP ${JsSIP.version} (exotel-voice interop)`,
    });
    state.ua = ua;
    ua.on('connected', () => record('connected'));
    ua.on('disconnected', () => record('disconnected'));
    ua.on('registered', () => record('registered'));
    ua.on('unregistered', () => record('unregistered'));
    ua.on('registrationFailed', ({ cause }) => record('registrationFailed', { cause }));
    ua.on('newRTCSession', onNewSession);
    const outcome = Promise.race([
      waitFor('registered', 10000),
      waitFor('registrationFailed', 10000).then(({ cause }) => {
        throw new Error(`registration failed: ${cause}`);
      }),
    ]);
    ua.start();
    await outcome;
    setStatus(`registered as ${uri}`);
    return { jssip: JsSIP.version, userAgent: navigator.userAgent };
  },

  /** Answer every incoming call with the fake microphone (true) or leave them ringing. */
  async autoAnswer(enabled) {
    state.answerOptions = enabled ? mediaOptions() : null;
    return enabled;
  },

  /** Run the tone meter on each call's remote audio (the default) or not: a benchmark
   * of answer time turns it off, so the browser does only what a web phone does. */
  async setMetering(enabled) {
    state.metering = enabled;
    return enabled;
  },

  /** Frequencies `hearing` can measure, besides the DTMF ones (set before the call). */
  async listenFor(frequencies) {
    state.probes = frequencies;
    return frequencies;
  },

  /** Place a call; follow it with waitFor('confirmed'). */
  async call(target) {
    const session = state.ua.call(target, mediaOptions());
    watchConnection(session.connection);
    return session.id;
  },

  /** Send keys to the peer: transportType 'RFC2833' (RTP events) or 'INFO'. */
  async sendDtmf(tones, transportType) {
    state.session.sendDTMF(tones, { transportType, duration: 100, interToneGap: 70 });
    return tones;
  },

  async hold() {
    return state.session.hold();
  },

  async unhold() {
    return state.session.unhold();
  },

  async hangup() {
    state.session.terminate();
    return true;
  },

  waitFor,

  /** Mean share of the remote audio at `frequency` over the last `ms`, and its level. */
  async hearing(frequency, ms = 400) {
    const meter = state.meter;
    if (!meter) return { windows: 0, ratio: 0, meanSquare: 0 };
    const since = meter.context.currentTime - ms / 1000;
    const recent = meter.windows.filter((w) => w.time >= since);
    const mean = (values) => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
    return {
      windows: recent.length,
      ratio: mean(recent.map((w) => w.ratios[frequency] ?? 0)),
      meanSquare: mean(recent.map((w) => w.meanSquare)),
    };
  },

  /** The call's audio statistics (inbound-rtp, outbound-rtp, codecs, ICE pair). */
  async audioStats() {
    const pc = state.session && state.session.connection;
    if (!pc) return null;
    const report = await pc.getStats();
    const all = [...report.values()];
    const inbound = all.find((s) => s.type === 'inbound-rtp' && s.kind === 'audio');
    const outbound = all.find((s) => s.type === 'outbound-rtp' && s.kind === 'audio');
    const codec = (stats) => {
      const found = stats && report.get(stats.codecId);
      return found ? `${found.mimeType}/${found.clockRate}` : null;
    };
    const transport = all.find((s) => s.type === 'transport');
    const pair = transport && report.get(transport.selectedCandidatePairId);
    return {
      inbound: inbound && {
        packetsReceived: inbound.packetsReceived,
        bytesReceived: inbound.bytesReceived,
        audioLevel: inbound.audioLevel,
        totalAudioEnergy: inbound.totalAudioEnergy,
        totalSamplesDuration: inbound.totalSamplesDuration,
        codec: codec(inbound),
      },
      outbound: outbound && {
        packetsSent: outbound.packetsSent,
        bytesSent: outbound.bytesSent,
        codec: codec(outbound),
      },
      candidatePair: pair && { state: pair.state, nominated: pair.nominated },
    };
  },

  /** Everything observed so far. */
  async snapshot() {
    return {
      log: state.log,
      dtmfInfo: state.dtmfInfo,
      dtmfAudio: state.dtmfAudio,
      infos: state.infos,
      sdp: state.sdp,
      sessionStatus: state.session ? state.session.status : null,
      isEnded: state.session ? state.session.isEnded() : null,
    };
  },

  /** Stop the UA: end any call and un-REGISTER; true once the registrar confirmed.
   * (JsSIP closes the WebSocket a few seconds later; closing the browser does it at once.) */
  async stop() {
    if (!state.ua) return false;
    const unregistered = waitFor('unregistered', 5000).then(() => true, () => false);
    state.ua.stop();
    return unregistered;
  },
};

window.addEventListener('error', (event) => record('page-error', { message: event.message }));
window.addEventListener('unhandledrejection', (event) =>
  record('page-error', { message: String(event.reason) }));
setStatus('ready');
record('page-ready');
