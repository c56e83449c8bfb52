// The playground page: the scenario list, the YAML editor and its knobs,
// runs in the worker, the report, and links that carry the case in the URL
// fragment (#scenario=NAME&seed=S&trials=N[&yaml=BASE64URL]; #compare=NAME&...
// compares the case with its mitigations instead of running it).
'use strict';

const $ = (id) => document.getElementById(id);
// The simulator's Web Workers: one per core (at most 8), since WebAssembly
// runs one thread per worker; a run's trials are split over them. The
// first also answers the library, knob and comparison calls.
const poolSize = Math.max(1, Math.min(8, navigator.hardwareConcurrency || 1));
// Opened from disk (file://), the browser refuses to fetch the module or
// start a worker from a file: playground-disk.js carries both instead.
const fromDisk = location.protocol === 'file:';
const workers = [];
let nextID = 1;
const pending = new Map();
let library = [];
let current = null; // the selected library entry
let running = false;

// askOn sends msg to worker k and resolves with its answer; transfer lists
// buffers handed over rather than copied.
function askOn(k, msg, onProgress, transfer) {
  const id = nextID++;
  return new Promise((resolve) => {
    pending.set(id, { resolve, onProgress });
    workers[k].postMessage({ ...msg, id }, transfer || []);
  });
}

function ask(msg, onProgress) {
  return askOn(0, msg, onProgress);
}

function onWorkerMessage(e) {
  const m = e.data;
  if (m.type === 'fatal') { $('status').textContent = 'The simulator did not load: ' + m.error; return; }
  const p = pending.get(m.id);
  if (!p) return;
  if (m.type === 'progress') { p.onProgress && p.onProgress(m.done, m.total); return; }
  pending.delete(m.id);
  p.resolve(m.data);
}

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = src;
    s.onload = resolve;
    s.onerror = () => reject(new Error('cannot load ' + src));
    document.head.append(s);
  });
}

// loadModule compiles playground.wasm once for every worker: streamed as it
// downloads over HTTP; from disk, from the base64 copy in playground-disk.js.
async function loadModule() {
  if (fromDisk) {
    await loadScript('playground-disk.js');
    const bin = atob(self.iampropDisk.wasm);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return WebAssembly.compile(bytes);
  }
  try {
    return await WebAssembly.compileStreaming(fetch('playground.wasm'));
  } catch (e) {
    // A server that does not say application/wasm: read the bytes instead.
    return WebAssembly.compile(await (await fetch('playground.wasm')).arrayBuffer());
  }
}

function newWorker() {
  if (!fromDisk) return new Worker('worker.js');
  const src = new Blob([self.iampropDisk.worker], { type: 'text/javascript' });
  return new Worker(URL.createObjectURL(src));
}

// loadLibrary reads the library's list from the site (library.json; from
// disk, playground-disk.js), which the module would otherwise build by
// parsing every scenario before the page could start a run.
async function loadLibrary() {
  if (fromDisk) return self.iampropDisk.library;
  const r = await fetch('library.json');
  if (!r.ok) throw new Error('library.json: ' + r.status);
  return r.json();
}

async function boot() {
  let module;
  try {
    // Over HTTP the list downloads while the module compiles; from disk it
    // is in playground-disk.js, which loadModule loads.
    const lib = fromDisk ? null : loadLibrary();
    if (lib) lib.catch(() => {}); // reported below, once awaited
    module = await loadModule();
    library = await (lib || loadLibrary());
  } catch (e) {
    $('status').textContent = 'The simulator did not load: ' + e;
    return;
  }
  let first;
  const firstReady = new Promise((resolve) => { first = resolve; });
  for (let k = 0; k < poolSize; k++) {
    const w = newWorker();
    // Calls sent before a worker is ready wait in its queue; only the
    // first worker's readiness gates the page.
    w.onmessage = (e) => (e.data.type === 'ready' ? k === 0 && first() : onWorkerMessage(e));
    w.postMessage({ type: 'init', module });
    workers.push(w);
  }
  await firstReady;
  init();
}

boot();

function el(tag, attrs, ...kids) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') n.className = v; else if (k.startsWith('on')) n.addEventListener(k.slice(2), v); else n.setAttribute(k, v);
  }
  for (const k of kids) n.append(k);
  return n;
}

// Base64url of UTF-8 text, for the share link.
function encodeText(s) {
  const bytes = new TextEncoder().encode(s);
  let bin = '';
  bytes.forEach((b) => { bin += String.fromCharCode(b); });
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
function decodeText(s) {
  const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/'));
  return new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
}

async function init() {
  const ul = $('library');
  ul.textContent = '';
  for (const s of library) {
    ul.append(el('li', {}, el('button', { type: 'button', 'data-name': s.name, onclick: () => select(s.name) },
      el('strong', {}, s.name), el('span', {}, s.title))));
  }
  $('run').disabled = false;
  $('share').disabled = false;
  $('run').addEventListener('click', run);
  $('compare').addEventListener('click', compare);
  $('share').addEventListener('click', share);
  $('yaml').addEventListener('input', debounce(readKnobs, 300));
  $('yaml').addEventListener('input', gutter);
  $('yaml').addEventListener('scroll', () => { $('yaml-gutter').scrollTop = $('yaml').scrollTop; });
  for (const id of ['median', 'p99', 'seed']) $(id).addEventListener('change', writeKnobs);
  window.addEventListener('hashchange', fromHash);
  if (!(await fromHash())) select(library[0].name);
}

function debounce(f, ms) {
  let t;
  return (...a) => { clearTimeout(t); t = setTimeout(() => f(...a), ms); };
}

async function select(name, yaml) {
  current = library.find((s) => s.name === name);
  if (!current) { $('status').textContent = 'No scenario ' + name + ' in the library.'; return false; }
  for (const b of document.querySelectorAll('#library button')) {
    b.setAttribute('aria-current', b.dataset.name === name ? 'true' : 'false');
  }
  $('case-h').textContent = current.title;
  $('about').textContent = '';
  $('about').append(el('p', { class: 'name' }, el('code', {}, current.name)),
    el('h3', {}, 'What happens'), el('p', {}, current.description),
    el('h3', {}, 'Lesson'), el('p', {}, current.lesson));
  $('yaml').value = yaml || current.yaml;
  const mit = current.mitigations || [];
  $('compare').hidden = mit.length === 0;
  $('compare').disabled = running || mit.length === 0;
  $('compare').title = mit.length ? 'Runs ' + current.name + ' (as edited) and ' + mit.join(', ') + ' with the same trials' : '';
  $('seed').value = '';
  showIssues([]);
  await readKnobs();
  return true;
}

// knobsEdit counts knob reads and edits: an answer from the worker that an
// edit or a newer read overtook is stale and must not overwrite what the
// learner typed since (the worker answers in order, the page does not wait).
let knobsEdit = 0;

async function readKnobs() {
  const edit = ++knobsEdit;
  const k = await ask({ type: 'knobs', yaml: $('yaml').value });
  if (edit !== knobsEdit || k.error) return;
  $('median').value = k.median || '';
  $('p99').value = k.p99 || '';
  $('median').disabled = !k.median;
  $('p99').disabled = !k.p99;
  const steps = $('steps');
  steps.textContent = '';
  (k.steps || []).forEach((s, i) => {
    const input = el('input', { id: 'step-' + (i + 1), size: '6', value: s.at || '' });
    input.addEventListener('change', writeKnobs);
    steps.append(el('label', {}, 'Step ' + (i + 1) + ' (' + s.label + ') at ', input));
  });
}

async function writeKnobs() {
  const steps = [...document.querySelectorAll('#steps input')].map((i) => ({ at: i.value.trim() }));
  const knobs = { median: $('median').value.trim(), p99: $('p99').value.trim(), steps };
  const edit = ++knobsEdit;
  const sent = $('yaml').value;
  const r = await ask({ type: 'setKnobs', yaml: sent, knobs });
  // A newer edit carries every knob's value; typing or another case wins.
  if (edit !== knobsEdit || $('yaml').value !== sent) return;
  if (r.error) { showIssues([{ line: 0, column: 0, message: r.error }]); return; }
  $('yaml').value = r.yaml;
  showIssues([]);
}

// badLines are the YAML's lines with problems, marked in the gutter.
let badLines = new Set();

// gutter numbers the editor's lines and marks those with problems.
function gutter() {
  const g = $('yaml-gutter');
  const n = $('yaml').value.split('\n').length;
  g.textContent = '';
  for (let i = 1; i <= n; i++) {
    if (badLines.has(i)) g.append(el('span', { class: 'bad', title: 'problem on line ' + i }, '\u25CF ' + i));
    else g.append(String(i));
    if (i < n) g.append('\n');
  }
  g.scrollTop = $('yaml').scrollTop;
}

function showIssues(issues) {
  badLines = new Set(issues.filter((is) => is.line).map((is) => is.line));
  $('yaml').setAttribute('aria-invalid', issues.length ? 'true' : 'false');
  gutter();
  const ul = $('issues');
  ul.textContent = '';
  for (const is of issues) {
    const where = is.line ? 'line ' + is.line + ':' + is.column + ': ' : '';
    const li = el('li', {}, el('button', { type: 'button', onclick: () => goTo(is.line, is.column) }, where + is.message));
    ul.append(li);
  }
}

// goTo puts the editor's caret at line:column.
function goTo(line, column) {
  if (!line) return;
  const ta = $('yaml');
  const lines = ta.value.split('\n');
  let at = 0;
  for (let i = 0; i < line - 1 && i < lines.length; i++) at += lines[i].length + 1;
  at += Math.max(0, (column || 1) - 1);
  ta.focus();
  ta.setSelectionRange(at, at + 1);
}

function seedValue() {
  const s = $('seed').value.trim();
  return /^\d+$/.test(s) ? s : '0';
}

function trialsValue() {
  return Math.max(1, parseInt($('trials').value, 10) || 1);
}

// runSharded runs a 'run' message's trials in chunks on every worker (a
// worker takes the next chunk when it ends one, so a worker on a busy core
// holds back no more than a chunk). The first worker folds the chunks in
// trial order into the report one worker's run gives, each as soon as the
// chunks before it are in, between chunks of its own: when the last chunk
// ends, little is left to fold.
async function runSharded(msg, onProgress) {
  const size = Math.max(1, Math.ceil(msg.trials / (4 * workers.length)));
  const chunks = [];
  for (let from = 0; from < msg.trials; from += size) chunks.push({ from, to: Math.min(msg.trials, from + size), done: 0 });
  const shards = [];
  let next = 0;
  let issues = null;
  const progress = () => onProgress(chunks.reduce((n, c) => n + c.done, 0), msg.trials);
  // Sent before the first worker's first chunk: its fold starts first.
  const folds = [askOn(0, { ...msg, type: 'foldStart' })];
  let fed = 0; // chunks handed to the fold, in order
  const feed = () => {
    for (; fed < chunks.length && shards[fed]; fed++) {
      const shard = shards[fed];
      shards[fed] = null;
      folds.push(askOn(0, { type: 'foldAdd', shard }, null, [shard.buffer]));
    }
  };
  async function take(k) {
    while (next < chunks.length && !issues) {
      const i = next++;
      const c = chunks[i];
      const r = await askOn(k, { ...msg, type: 'runShard', from: c.from, to: c.to }, (done) => { c.done = done; progress(); });
      if (r.issues) { issues = issues || r.issues; return; }
      shards[i] = r.shard;
      c.done = c.to - c.from;
      progress();
      feed();
    }
  }
  await Promise.all(workers.map((_, k) => take(k)));
  for (const r of await Promise.all(folds)) issues = issues || r.issues;
  if (issues) return { issues };
  return askOn(0, { type: 'foldEnd' });
}

// job runs msg in the workers with the progress bar and the buttons
// locked; it returns the result and the seconds taken, or null when the
// scenario had problems (they are shown).
async function job(msg, what) {
  running = true;
  $('run').disabled = true;
  $('compare').disabled = true;
  const bar = $('progress');
  bar.max = msg.trials; bar.value = 0;
  $('status').textContent = what + '…';
  $('report-json').textContent = '';
  $('compare-json').textContent = '';
  const started = performance.now();
  const onProgress = (done, total) => { bar.max = total; bar.value = done; };
  const sharded = msg.type === 'run' && workers.length > 1 && msg.trials > 1;
  const res = sharded ? await runSharded(msg, onProgress) : await ask(msg, onProgress);
  $('status').dataset.workers = String(sharded ? workers.length : 1);
  const secs = ((performance.now() - started) / 1000).toFixed(2);
  running = false;
  $('run').disabled = false;
  $('compare').disabled = !(current.mitigations || []).length;
  if (res.issues) {
    showIssues(res.issues);
    $('status').textContent = 'The scenario has ' + res.issues.length + ' problem' + (res.issues.length === 1 ? '' : 's') + '.';
    return null;
  }
  showIssues([]);
  bar.value = bar.max;
  $('report').srcdoc = res.html;
  return { res, secs };
}

async function run() {
  if (running || !current) return;
  const trials = trialsValue();
  const out = await job({ type: 'run', name: current.name, yaml: $('yaml').value, seed: seedValue(), trials },
    'Running ' + trials + ' trial' + (trials === 1 ? '' : 's'));
  if (!out) return;
  const { res, secs } = out;
  $('compare-summary').textContent = '';
  summarize(JSON.parse(res.json));
  $('status').textContent = 'Done in ' + secs + ' s: ' + (res.passed ? 'every expectation passed.' : 'an expectation failed.');
  $('status').dataset.seconds = secs;
  $('report-json').textContent = res.json; // last: tests wait for it
  updateShareLink('run');
}

// compare runs the case (as edited) and each of its library mitigations
// with the same seed and trials, and sets their key figures side by side.
async function compare() {
  if (running || !current || !(current.mitigations || []).length) return;
  const trials = trialsValue();
  const sources = [{ name: current.name, yaml: $('yaml').value }]
    .concat(current.mitigations.map((n) => ({ name: n, yaml: library.find((s) => s.name === n).yaml })));
  const out = await job({ type: 'compare', sources, seed: seedValue(), trials },
    'Comparing ' + sources.length + ' scenarios, ' + trials + ' trial' + (trials === 1 ? '' : 's') + ' each');
  if (!out) return;
  const { res, secs } = out;
  $('summary').textContent = '';
  compareTable(JSON.parse(res.json));
  $('status').textContent = 'Compared in ' + secs + ' s: ' + (res.passed ? 'every expectation passed.' : 'an expectation failed.');
  $('status').dataset.seconds = secs;
  $('compare-json').textContent = res.json; // last: tests wait for it
  updateShareLink('compare');
}

// compareTable writes the comparison side by side: a column per scenario,
// a row per probe and figure (the text alternative of the bars).
function compareTable(c) {
  const f = (v) => (v === undefined || v === null ? '-' : Number(v).toFixed(3));
  const table = el('table', { id: 'compare-table' }, el('caption', {}, 'Side by side: ' + c.trials + ' trial(s) per scenario'));
  table.append(el('tr', {}, el('th', { scope: 'col' }, 'probe'), el('th', { scope: 'col' }, 'figure'),
    ...c.scenarios.map((s) => el('th', { scope: 'col' }, s.scenario))));
  const probes = [];
  for (const s of c.scenarios) for (const p of s.probes || []) if (!probes.includes(p.probe)) probes.push(p.probe);
  const figures = [
    ['exposure p50 (s)', (p) => f(p.exposure_seconds.p50)],
    ['exposure p99 (s)', (p) => f(p.exposure_seconds.p99)],
    ['exposure max (s)', (p) => f(p.exposure_seconds.max)],
    ['stale allows / trial', (p) => p.stale_allows_per_trial.toFixed(1)],
    ['denial p50 (s)', (p) => f(p.denial_seconds.p50)],
    ['wait p50 (s)', (p) => (p.wait_seconds ? f(p.wait_seconds.p50) : '-')],
  ];
  for (const name of probes) {
    figures.forEach(([label, get], i) => {
      const cells = c.scenarios.map((s) => {
        const p = (s.probes || []).find((q) => q.probe === name);
        return el('td', {}, p ? get(p) : '');
      });
      const row = el('tr', {});
      if (i === 0) row.append(el('th', { scope: 'rowgroup', rowspan: String(figures.length) }, name));
      row.append(el('th', { scope: 'row' }, label), ...cells);
      table.append(row);
    });
  }
  table.append(el('tr', {}, el('th', { scope: 'row', colspan: '2' }, 'expectations'),
    ...c.scenarios.map((s) => el('td', {}, s.passed ? 'passed' : 'FAILED'))));
  $('compare-summary').textContent = '';
  $('compare-summary').append(table);
}

// summarize writes the text alternative of the charts: one row per probe.
function summarize(r) {
  const f = (v) => (v === undefined ? '' : Number(v).toFixed(3));
  const table = el('table', {}, el('caption', {}, r.scenario + ': ' + r.trials + ' trial(s) from seed ' + r.seed));
  table.append(el('tr', {}, ...['probe', 'region', 'exposure p50 (s)', 'exposure p99 (s)', 'exposure max (s)', 'stale allows', 'requests']
    .map((h) => el('th', { scope: 'col' }, h))));
  for (const p of r.probes || []) {
    table.append(el('tr', {}, el('th', { scope: 'row' }, p.name), el('td', {}, p.region),
      el('td', {}, f(p.exposure_seconds.p50)), el('td', {}, f(p.exposure_seconds.p99)), el('td', {}, f(p.exposure_seconds.max)),
      el('td', {}, String(p.stale_allows)), el('td', {}, String(p.requests))));
  }
  const ex = el('ul', {});
  for (const e of r.expectations || []) ex.append(el('li', {}, (e.passed ? 'passed: ' : 'FAILED: ') + e.expr));
  $('summary').textContent = '';
  $('summary').append(table, ex);
}

// shareHash is the link to the current case; kind 'compare' links to its
// comparison with its mitigations.
function shareHash(kind) {
  const p = new URLSearchParams();
  p.set(kind === 'compare' ? 'compare' : 'scenario', current.name);
  p.set('seed', seedValue());
  p.set('trials', String(trialsValue()));
  if ($('yaml').value !== current.yaml) p.set('yaml', encodeText($('yaml').value));
  return '#' + p.toString();
}

let lastKind = 'run';

function updateShareLink(kind) {
  if (kind) lastKind = kind;
  $('share-link').href = shareHash(lastKind);
}

async function share() {
  updateShareLink();
  const url = location.href.split('#')[0] + shareHash(lastKind);
  try { await navigator.clipboard.writeText(url); $('status').textContent = 'Share link copied.'; } catch (e) {
    $('status').textContent = 'Share link: ' + url;
  }
}

// fromHash runs the case the URL fragment names, if any.
async function fromHash() {
  const p = new URLSearchParams(location.hash.slice(1));
  const name = p.get('scenario') || p.get('compare');
  if (!name) return false;
  let yaml;
  try { yaml = p.get('yaml') ? decodeText(p.get('yaml')) : undefined; } catch (e) { yaml = undefined; }
  if (!(await select(name, yaml))) return false;
  if (p.get('seed') && p.get('seed') !== '0') $('seed').value = p.get('seed');
  if (p.get('trials')) $('trials').value = p.get('trials');
  if (p.get('compare')) await compare(); else await run();
  return true;
}
