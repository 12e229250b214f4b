// The dt_jax player: a face (.glb with 52 ARKit morph targets) played in sync with its audio (clip mode), or driven
// live by the streaming animator over a WebSocket from a wav or the microphone (live mode). `window.viewer` lets a
// test (or the console) seek, read the morph weights and find the mouth on screen.
import * as THREE from 'three';
import { GLTFLoader } from '/static/vendor/three/loaders/GLTFLoader.js';
import { OrbitControls } from '/static/vendor/three/controls/OrbitControls.js';

const $ = (id) => document.getElementById(id);
const status = (text) => { $('status').textContent = text; };
window.addEventListener('error', (e) => status(String(e.message)));

const config = await (await fetch('/config.json')).json();
$('title').textContent = config.title;

// Scene: the face, a dark mouth cavity behind the lips and eyeballs behind the lids (our MediaPipe faces).
const renderer = new THREE.WebGLRenderer({ canvas: $('view'), antialias: true, preserveDrawingBuffer: true });
const scene = new THREE.Scene();
scene.background = new THREE.Color(0xf4f1ee);
scene.add(new THREE.HemisphereLight(0xffffff, 0x806a5a, 1.6));
const keyLight = new THREE.DirectionalLight(0xffffff, 2.2);
keyLight.position.set(0.35, 0.45, 1.0);
scene.add(keyLight);

const gltf = await new GLTFLoader().loadAsync(config.glb);
let face = null;
gltf.scene.traverse((o) => { if (o.isMesh && !face) face = o; });
if (!face.geometry.attributes.normal) face.geometry.computeVertexNormals();
face.material = new THREE.MeshStandardMaterial({ color: 0xe9c0a2, roughness: 0.65, metalness: 0.0,
                                                  side: THREE.DoubleSide });
scene.add(gltf.scene);

// The cavity: a cup hung off the inner-lip ring (as render/scene.py's), rebuilt from the morphed ring every frame.
const cavity = config.mouth && (() => {
  const ring = config.mouth.ring, u = config.mouth.unit, n = ring.length;
  const base = face.geometry.attributes.position, targets = face.geometry.morphAttributes.position || [];
  const geometry = new THREE.BufferGeometry();
  const points = new Float32Array((2 * n + 1) * 3);
  geometry.setAttribute('position', new THREE.BufferAttribute(points, 3));
  geometry.setIndex(config.mouth.faces.flat());
  scene.add(new THREE.Mesh(geometry, new THREE.MeshBasicMaterial({ color: 0x45100f, side: THREE.DoubleSide })));
  const centre = new THREE.Vector3();
  return {
    centre,
    update() {
      const w = face.morphTargetInfluences;
      centre.set(0, 0, 0);
      ring.forEach((v, i) => {
        for (let c = 0; c < 3; c++) {
          let x = base.array[3 * v + c];
          targets.forEach((t, k) => { if (w[k]) x += w[k] * t.array[3 * v + c]; });
          points[3 * i + c] = x;
        }
        centre.add(new THREE.Vector3(points[3 * i], points[3 * i + 1], points[3 * i + 2]));
      });
      centre.divideScalar(n);
      const scale = [0.8, 0.6, 1.0];
      for (let i = 0; i < n; i++) {
        for (let c = 0; c < 3; c++) {
          const x = points[3 * i + c], m = centre.getComponent(c);
          points[3 * (n + i) + c] = m + (x - m) * scale[c] - (c === 2 ? u : 0);
        }
      }
      points.set([centre.x, centre.y - 0.2 * u, centre.z - 1.6 * u], 6 * n);
      geometry.attributes.position.needsUpdate = true;
      geometry.computeBoundingSphere();
    },
  };
})();
for (const eye of config.eyes) {
  const ball = new THREE.Mesh(new THREE.SphereGeometry(eye.radius, 32, 24),
                              new THREE.MeshStandardMaterial({ color: 0xf4f4f0, roughness: 0.3 }));
  ball.position.set(...eye.centre);
  const iris = new THREE.Mesh(new THREE.SphereGeometry(0.45 * eye.radius, 24, 16),
                              new THREE.MeshStandardMaterial({ color: 0x456b8c, roughness: 0.4 }));
  iris.position.set(0, 0, 0.6 * eye.radius);
  ball.add(iris);
  scene.add(ball);
}

// Camera: the face's front, turned 15 degrees like the offline renders; drag to orbit, wheel to zoom.
const box = new THREE.Box3().setFromObject(face);
const centre = box.getCenter(new THREE.Vector3());
const height = box.getSize(new THREE.Vector3()).y;
const camera = new THREE.PerspectiveCamera(25, 1, 0.01, 100);
const distance = 0.62 * height / Math.tan(THREE.MathUtils.degToRad(12.5));
const yaw = THREE.MathUtils.degToRad(15);
camera.position.set(centre.x + distance * Math.sin(yaw), centre.y + 0.08 * distance, centre.z + distance * Math.cos(yaw));
const controls = new OrbitControls(camera, renderer.domElement);
controls.target.copy(centre);
controls.update();

const names = Object.keys(face.morphTargetDictionary || {});
function weights() {
  const out = {};
  for (const n of names) out[n] = face.morphTargetInfluences[face.morphTargetDictionary[n]];
  return out;
}

// Clip mode: the glb's morph animation, its clock the audio's (or the page's when there is no audio).
const fps = config.fps;
const mixer = new THREE.AnimationMixer(gltf.scene);
const animation = gltf.animations[0];
if (animation) mixer.clipAction(animation).play();
const duration = config.audio_seconds || (config.frames - 1) / fps;
const audio = config.audio ? new Audio(config.audio) : null;
let playing = false, paused = 0, started = 0;
function now() {
  if (!playing) return paused;
  const t = audio && !audio.paused ? audio.currentTime : paused + (performance.now() - started) / 1000;
  return Math.min(t, duration);
}
function show(t) { if (animation) mixer.setTime(Math.min(t, animation.duration)); }
function seek(t) {
  paused = Math.max(0, Math.min(t, duration));
  started = performance.now();
  if (audio) audio.currentTime = paused;
  show(paused);
}
async function play() {
  if (config.mode === 'live') return;
  if (playing) { paused = now(); playing = false; if (audio) audio.pause(); $('play').textContent = 'Play'; return; }
  if (paused >= duration - 1e-3) seek(0);
  started = performance.now();
  playing = true;
  $('play').textContent = 'Pause';
  if (audio) { audio.currentTime = paused; audio.play().catch(() => status('the browser would not play audio')); }
}
$('play').onclick = play;
$('scrub').max = duration;
$('scrub').oninput = (e) => seek(Number(e.target.value));
window.addEventListener('keydown', (e) => { if (e.code === 'Space') { e.preventDefault(); play(); } });
if (audio) audio.onended = () => { playing = false; paused = duration; $('play').textContent = 'Play'; };

// Live mode: 16 kHz samples go to /live as they are heard; each frame's latency is the time from its audio's chunk
// leaving the page to the frame arriving (the animator's lookahead included).
const live = { connected: false, received: 0, latencies: [], chunkEnds: [], sent: 0, chunk: 0, source: null };
let ws = null;
function liveConnect() {
  if (ws && ws.readyState <= 1) return Promise.resolve();
  ws = new WebSocket(`ws://${location.host}${config.live}`);
  ws.onmessage = (ev) => {
    const msg = JSON.parse(ev.data);
    if (msg.error) { status(msg.error); return; }
    const t = performance.now();
    for (const [frame, w] of msg.frames) {
      const end = Math.ceil((frame + 1) * config.sample_rate / fps);
      const c = live.chunkEnds.find((x) => x[0] >= end);
      if (c && msg.chunk !== null) live.latencies.push(t - c[1]);
      w.forEach((v, k) => { face.morphTargetInfluences[face.morphTargetDictionary[config.names[k]]] = v; });
      live.received += 1;
    }
    const recent = live.latencies.slice(-60).sort((a, b) => a - b);
    if (recent.length) {
      live.p50 = recent[Math.floor(recent.length / 2)];
      $('latency').textContent = `latency ${live.p50.toFixed(0)} ms (lookahead ${config.lookahead_ms} ms)`;
    }
  };
  return new Promise((resolve, reject) => {
    ws.onopen = () => { live.connected = true; resolve(); };
    ws.onerror = () => { status('cannot reach the live animator'); reject(new Error('websocket')); };
  });
}
function send(samples) {
  if (!samples.length) return;
  const buf = new ArrayBuffer(4 + 4 * samples.length);
  new DataView(buf).setUint32(0, live.chunk++, true);
  new Float32Array(buf, 4).set(samples);
  ws.send(buf);
  live.sent += samples.length;
  live.chunkEnds.push([live.sent, performance.now()]);
}
function liveReset() { live.sent = 0; live.chunkEnds = []; live.latencies = []; }
async function resample(arrayBuffer) {
  const decoded = await new AudioContext().decodeAudioData(arrayBuffer);
  const n = Math.ceil(decoded.duration * config.sample_rate);
  const offline = new OfflineAudioContext(1, n, config.sample_rate);
  const src = offline.createBufferSource();
  src.buffer = decoded;
  src.connect(offline.destination);
  src.start();
  return (await offline.startRendering()).getChannelData(0);
}
async function liveWav(url) {
  stopSource();
  await liveConnect();
  liveReset();
  const bytes = await (await fetch(url)).arrayBuffer();
  const samples = await resample(bytes.slice(0));
  const player = new Audio(url);
  let wall = performance.now(), audible = true;
  await player.play().catch(() => { audible = false; status('playing silently (the browser would not play audio)'); });
  wall = performance.now();
  const timer = setInterval(() => {
    const heard = audible && !player.paused ? player.currentTime : (performance.now() - wall) / 1000;
    const upto = Math.min(samples.length, Math.floor(heard * config.sample_rate));
    send(samples.subarray(live.sent, upto));
    if (upto >= samples.length) { clearInterval(timer); ws.send('end'); live.source = null; }
  }, 20);
  live.source = { stop: () => { clearInterval(timer); player.pause(); ws.send('end'); } };
}
async function liveMic() {
  if (live.source) { stopSource(); return; }
  await liveConnect();
  liveReset();
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  const ctx = new AudioContext({ sampleRate: config.sample_rate });
  const src = ctx.createMediaStreamSource(stream);
  const tap = ctx.createScriptProcessor(1024, 1, 1);
  tap.onaudioprocess = (e) => send(new Float32Array(e.inputBuffer.getChannelData(0)));
  src.connect(tap);
  tap.connect(ctx.destination);
  $('mic').textContent = 'Stop';
  live.source = { stop: () => { tap.disconnect(); stream.getTracks().forEach((t) => t.stop()); ctx.close();
                                ws.send('end'); $('mic').textContent = 'Microphone'; } };
}
function stopSource() { if (live.source) { live.source.stop(); live.source = null; } }
if (config.mode === 'live') {
  $('live').hidden = false;
  $('play').hidden = $('scrub').hidden = $('time').hidden = true;
  $('live-wav').disabled = !config.audio;
  $('live-wav').onclick = () => liveWav(config.audio).catch((e) => status(String(e)));
  $('wav-file').onchange = (e) => { const f = e.target.files[0]; if (f) liveWav(URL.createObjectURL(f)).catch((x) => status(String(x))); };
  $('mic').onclick = () => liveMic().catch((e) => status(`microphone: ${e.message || e}`));
  if (!navigator.mediaDevices) $('mic').disabled = true;
}

function frame() {
  const canvas = renderer.domElement;
  if (canvas.width !== canvas.clientWidth || canvas.height !== canvas.clientHeight) {
    renderer.setSize(canvas.clientWidth, canvas.clientHeight, false);
    camera.aspect = canvas.clientWidth / canvas.clientHeight;
    camera.updateProjectionMatrix();
  }
  if (config.mode === 'clip') {
    const t = now();
    if (playing) show(t);
    if (playing && t >= duration && !audio) { playing = false; paused = duration; $('play').textContent = 'Play'; }
    $('scrub').value = t;
    $('time').textContent = `${t.toFixed(2)} / ${duration.toFixed(2)} s  frame ${Math.round(t * fps)}`;
  }
  if (cavity) cavity.update();
  renderer.render(scene, camera);
  requestAnimationFrame(frame);
}
seek(0);
requestAnimationFrame(frame);

window.viewer = {
  ready: true,
  config,
  seek: (t) => { seek(t); if (cavity) cavity.update(); renderer.render(scene, camera); },
  play,
  liveWav: () => liveWav(config.audio),
  state: () => ({ time: now(), frame: Math.round(now() * fps), playing, weights: weights(),
                  live: { connected: live.connected, received: live.received, p50: live.p50 ?? null } }),
  mouth: () => (cavity ? cavity.centre.toArray() : null),
  // Where a point of the face (metres, the glb's frame) lands on the canvas, in CSS pixels from its top left.
  project: (p) => {
    const v = new THREE.Vector3(...p).project(camera);
    const r = renderer.domElement.getBoundingClientRect();
    return [r.left + (v.x + 1) / 2 * r.width, r.top + (1 - v.y) / 2 * r.height];
  },
};
