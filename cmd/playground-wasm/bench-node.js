// Times one run of the playground's module outside the browser, in Node
// (the same V8 engine as Chromium), for profiling the WebAssembly build:
//
//   GOOS=js GOARCH=wasm go build -o /tmp/pg.wasm ./cmd/playground-wasm
//   node cmd/playground-wasm/bench-node.js "$(go env GOROOT)/lib/wasm/wasm_exec.js" /tmp/pg.wasm 3000
//   node --cpu-prof --cpu-prof-dir=/tmp/prof cmd/playground-wasm/bench-node.js ...   # a profile
//
// It prints the wall and CPU seconds of public-s3-bucket with that many
// trials from seed 1 (CPU time is steadier than wall time on a shared
// machine). GOGC=N in the environment is passed to the module.
'use strict';
const fs = require('fs');
const [glue, wasm, trials] = process.argv.slice(2);
require(glue);
globalThis.postMessage = () => {}; // the module announces itself to its worker
const go = new Go();
go.env = process.env.GOGC ? { GOGC: process.env.GOGC } : {};
WebAssembly.instantiate(fs.readFileSync(wasm), go.importObject).then((inst) => {
  go.run(inst.instance);
  const e = JSON.parse(iamprop.library()).find((s) => s.name === 'public-s3-bucket');
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  iamprop.run(e.name, e.yaml, '1', Number(trials || 10000), () => {}, (res) => {
    const c = process.cpuUsage(c0);
    const r = JSON.parse(res);
    if (!r.json) { console.error(res); process.exit(1); }
    console.log(`${trials} trials: ${((performance.now() - t0) / 1000).toFixed(2)} s wall, ${((c.user + c.system) / 1e6).toFixed(2)} s CPU`);
    process.exit(0);
  });
});
