// The Web Worker: it loads the Go simulator (playground.wasm) and runs it
// here, off the page's thread, so a long run never freezes the page.
importScripts('wasm_exec.js');

const go = new Go();
let queue = [];
let ready = false;

async function start() {
  let inst;
  try {
    inst = await WebAssembly.instantiateStreaming(fetch('playground.wasm'), go.importObject);
  } catch (e) {
    // A server that does not say application/wasm: read the bytes instead.
    const bytes = await (await fetch('playground.wasm')).arrayBuffer();
    inst = await WebAssembly.instantiate(bytes, go.importObject);
  }
  go.run(inst.instance); // main sets self.iamprop and posts {type: 'ready'}
  ready = true;
  queue.forEach(handle);
  queue = [];
}

function handle(msg) {
  const api = self.iamprop;
  switch (msg.type) {
    case 'library':
      postMessage({ type: 'library', id: msg.id, data: JSON.parse(api.library()) });
      break;
    case 'knobs':
      postMessage({ type: 'knobs', id: msg.id, data: JSON.parse(api.knobs(msg.yaml)) });
      break;
    case 'setKnobs':
      postMessage({ type: 'setKnobs', id: msg.id, data: JSON.parse(api.setKnobs(msg.yaml, JSON.stringify(msg.knobs))) });
      break;
    case 'run':
      api.run(msg.name, msg.yaml, String(msg.seed || 0), msg.trials,
        (done, total) => postMessage({ type: 'progress', id: msg.id, done, total }),
        (res) => postMessage({ type: 'result', id: msg.id, data: JSON.parse(res) }));
      break;
    case 'compare':
      api.compare(JSON.stringify(msg.sources), String(msg.seed || 0), msg.trials,
        (done, total) => postMessage({ type: 'progress', id: msg.id, done, total }),
        (res) => postMessage({ type: 'result', id: msg.id, data: JSON.parse(res) }));
      break;
  }
}

onmessage = (e) => (ready ? handle(e.data) : queue.push(e.data));
start().catch((e) => postMessage({ type: 'fatal', error: String(e) }));
