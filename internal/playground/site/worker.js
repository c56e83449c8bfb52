// A Web Worker: it runs the Go simulator (the playground.wasm module the
// page compiled and sent in an 'init' message) off the page's thread, so a
// long run never freezes the page. The page starts several and splits a
// run's trials over them (runShard); the first also folds the shards as
// they come in (foldStart, foldAdd, foldEnd).
// Opened from disk, the page starts this from a Blob whose source begins
// with wasm_exec.js; over HTTP it imports it.
if (typeof Go === 'undefined') importScripts('wasm_exec.js');

let queue = [];
let ready = false;

async function start(module) {
  const go = new Go();
  const inst = await WebAssembly.instantiate(module, go.importObject);
  go.run(inst); // main sets self.iamprop and posts {type: 'ready'}
  ready = true;
  queue.forEach(handle);
  queue = [];
}

function handle(msg) {
  const api = self.iamprop;
  const progress = (done, total) => postMessage({ type: 'progress', id: msg.id, done, total });
  const result = (res) => postMessage({ type: 'result', id: msg.id, data: JSON.parse(res) });
  switch (msg.type) {
    case 'knobs':
      postMessage({ type: 'knobs', id: msg.id, data: JSON.parse(api.knobs(msg.yaml)) });
      break;
    case 'setKnobs':
      postMessage({ type: 'setKnobs', id: msg.id, data: JSON.parse(api.setKnobs(msg.yaml, JSON.stringify(msg.knobs))) });
      break;
    case 'run':
      api.run(msg.name, msg.yaml, String(msg.seed || 0), msg.trials, progress, result);
      break;
    case 'runShard':
      api.runShard(msg.name, msg.yaml, String(msg.seed || 0), msg.trials, msg.from, msg.to, progress, (issues, shard) => {
        if (shard) postMessage({ type: 'result', id: msg.id, data: { shard } }, [shard.buffer]);
        else postMessage({ type: 'result', id: msg.id, data: { issues: JSON.parse(issues) } });
      });
      break;
    case 'foldStart': {
      const issues = api.foldStart(msg.name, msg.yaml, String(msg.seed || 0), msg.trials);
      postMessage({ type: 'result', id: msg.id, data: { issues: issues && JSON.parse(issues) } });
      break;
    }
    case 'foldAdd': {
      const issues = api.foldAdd(msg.shard);
      postMessage({ type: 'result', id: msg.id, data: { issues: issues && JSON.parse(issues) } });
      break;
    }
    case 'foldEnd':
      api.foldEnd(result);
      break;
    case 'compare':
      api.compare(JSON.stringify(msg.sources), String(msg.seed || 0), msg.trials, progress, result);
      break;
  }
}

onmessage = (e) => {
  if (e.data.type === 'init') {
    start(e.data.module).catch((err) => postMessage({ type: 'fatal', error: String(err) }));
    return;
  }
  if (ready) handle(e.data); else queue.push(e.data);
};
