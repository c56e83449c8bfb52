// Times one run of the playground's module outside the browser, in Node
// (the same V8 engine as Chromium), for profiling the WebAssembly build:
//
//   GOOS=js GOARCH=wasm go build -o /tmp/pg.wasm ./cmd/playground-wasm
//   node cmd/playground-wasm/bench-node.js "$(go env GOROOT)/lib/wasm/wasm_exec.js" /tmp/pg.wasm 3000
//   node cmd/playground-wasm/bench-node.js ... 3000 4   # as 4 shards (runShard) folded (fold), one after another
//   node --cpu-prof --cpu-prof-dir=/tmp/prof cmd/playground-wasm/bench-node.js ...   # a profile
//
// It prints the wall and CPU seconds of public-s3-bucket with that many
// trials from seed 1 (CPU time is steadier than wall time on a shared
// machine), and with a shard count, the fold's share. GOGC=N in the
// environment is passed to the module.
'use strict';
const fs = require('fs');
const [glue, wasm, trialsArg, shardsArg] = process.argv.slice(2);
require(glue);
globalThis.postMessage = () => {}; // the module announces itself to its worker
const go = new Go();
go.env = process.env.GOGC ? { GOGC: process.env.GOGC } : {};
const trials = Number(trialsArg || 10000);
const cpu = (c) => ((c.user + c.system) / 1e6).toFixed(2);
WebAssembly.instantiate(fs.readFileSync(wasm), go.importObject).then(async (inst) => {
  go.run(inst.instance);
  const e = JSON.parse(iamprop.library()).find((s) => s.name === 'public-s3-bucket');
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const done = (res, extra) => {
    const c = process.cpuUsage(c0);
    const r = JSON.parse(res);
    if (!r.json) { console.error(res); process.exit(1); }
    console.log(`${trials} trials: ${((performance.now() - t0) / 1000).toFixed(2)} s wall, ${cpu(c)} s CPU${extra || ''}`);
    process.exit(0);
  };
  const n = Number(shardsArg || 0);
  if (!n) {
    iamprop.run(e.name, e.yaml, '1', trials, () => {}, done);
    return;
  }
  const shards = [];
  for (let k = 0; k < n; k++) {
    shards.push(await new Promise((resolve, reject) => iamprop.runShard(e.name, e.yaml, '1', trials,
      Math.floor(trials * k / n), Math.floor(trials * (k + 1) / n), () => {},
      (issues, shard) => (shard ? resolve(shard) : reject(new Error(issues))))));
  }
  const cf = process.cpuUsage();
  const bytes = shards.reduce((s, b) => s + b.length, 0);
  iamprop.fold(e.name, e.yaml, '1', trials, shards, (res) =>
    done(res, ` (${n} shards, ${(bytes / 1e6).toFixed(2)} MB; the fold ${cpu(process.cpuUsage(cf))} s CPU)`));
});
