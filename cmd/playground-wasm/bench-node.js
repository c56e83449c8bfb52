// Times one run of the playground's module outside the browser, in Node
// (the same V8 engine as Chromium), for profiling the WebAssembly build:
//
//   GOOS=js GOARCH=wasm go build -o /tmp/pg.wasm ./cmd/playground-wasm
//   node cmd/playground-wasm/bench-node.js "$(go env GOROOT)/lib/wasm/wasm_exec.js" /tmp/pg.wasm 3000
//   node cmd/playground-wasm/bench-node.js ... 3000 4   # as 4 shards (runShard) one after another, folded as they come (foldAdd)
//   node --cpu-prof --cpu-prof-dir=/tmp/prof cmd/playground-wasm/bench-node.js ...   # a profile
//
// It prints the wall and CPU seconds of public-s3-bucket with that many
// trials from seed 1 (CPU time is steadier than wall time on a shared
// machine), and with a shard count, the fold's share: the part done as
// the shards came and the part left at the end (foldEnd: the report). GOGC=N in the
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
  // The module's library() is what the page no longer waits for
  // (library.json): its cost is printed first.
  const cl = process.cpuUsage();
  const e = JSON.parse(iamprop.library()).find((s) => s.name === 'public-s3-bucket');
  console.log(`library(): ${cpu(process.cpuUsage(cl))} s CPU`);
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
  // As the page does: the fold starts first and takes each shard as it
  // ends (foldAdd); foldEnd is what is left once the last shard ends.
  let foldCPU = 0;
  const timed = (f) => {
    const c = process.cpuUsage();
    const r = f();
    const d = process.cpuUsage(c);
    foldCPU += (d.user + d.system) / 1e6;
    return r;
  };
  const check = (issues) => { if (issues) { console.error(issues); process.exit(1); } };
  check(timed(() => iamprop.foldStart(e.name, e.yaml, '1', trials)));
  let bytes = 0;
  for (let k = 0; k < n; k++) {
    const shard = await new Promise((resolve, reject) => iamprop.runShard(e.name, e.yaml, '1', trials,
      Math.floor(trials * k / n), Math.floor(trials * (k + 1) / n), () => {},
      (issues, shard) => (shard ? resolve(shard) : reject(new Error(issues)))));
    bytes += shard.length;
    check(timed(() => iamprop.foldAdd(shard)));
  }
  const cf = process.cpuUsage();
  iamprop.foldEnd((res) =>
    done(res, ` (${n} shards, ${(bytes / 1e6).toFixed(2)} MB; folding the shards as they came ${foldCPU.toFixed(2)} s CPU, the fold's end ${cpu(process.cpuUsage(cf))} s)`));
});
