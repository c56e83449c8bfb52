// Compares builds of the playground's module in one Node process, the way
// a loaded machine allows: the modules run public-s3-bucket (seed 1) in
// turn, round after round, so every module sees the same load, and each
// run's CPU time (process.cpuUsage) is divided by its trials:
//
//   GOOS=js GOARCH=wasm go build -ldflags='-s -w' -o /tmp/a.wasm ./cmd/playground-wasm
//   (change something, build /tmp/b.wasm the same way)
//   node cmd/playground-wasm/ab-node.js "$(go env GOROOT)/lib/wasm/wasm_exec.js" 1000 6 /tmp/a.wasm /tmp/b.wasm
//
// Arguments: the glue, trials per run, rounds, then modules; MODULE@N runs
// that module with GOGC=N. It prints the load's CPU (V8's compile, the Go
// runtime's start, the library), then per module the CPU µs per trial of
// each round and whether its report equals the first module's. Each
// module first runs WARM trials (default 300; WARM=0 for none) so that V8
// has tiered the hot code up: without that the first module's first round
// pays for the others' optimizing compiler too. With WARM=0 and one
// module, the first round shows that tax (compile and slower baseline
// code), the later ones the steady cost.
'use strict';
const fs = require('fs');
const [glue, trialsArg, roundsArg, ...modules] = process.argv.slice(2);
require(glue);
globalThis.postMessage = () => {}; // the module announces itself to its worker
const trials = Number(trialsArg || 1000);
const rounds = Number(roundsArg || 4);
const warm = Number(process.env.WARM ?? 300);
const seconds = (c) => (c.user + c.system) / 1e6;

// load instantiates one module; each sets globalThis.iamprop as it starts,
// so its API is taken before the next one replaces it.
async function load(arg) {
  const [file, gogc] = arg.split('@');
  const go = new Go();
  go.env = gogc ? { GOGC: gogc } : {};
  const inst = await WebAssembly.instantiate(fs.readFileSync(file), go.importObject);
  go.run(inst.instance);
  const api = globalThis.iamprop;
  const e = JSON.parse(api.library()).find((s) => s.name === 'public-s3-bucket');
  return { arg, api, e, cpu: [], report: undefined };
}

function run(m, n) {
  return new Promise((resolve) => m.api.run(m.e.name, m.e.yaml, '1', n, () => {}, resolve));
}

(async () => {
  const c0 = process.cpuUsage();
  const ms = [];
  for (const a of modules) ms.push(await load(a));
  console.log(`load (compile, instantiate, library): ${seconds(process.cpuUsage(c0)).toFixed(2)} s CPU`);
  if (warm) for (const m of ms) await run(m, warm);
  for (let r = 0; r < rounds; r++) {
    for (const m of ms) {
      const c = process.cpuUsage();
      const res = JSON.parse(await run(m, trials));
      m.cpu.push(seconds(process.cpuUsage(c)));
      if (!res.json) { console.error(m.arg, res); process.exit(1); }
      if (m.report === undefined) m.report = res.json;
    }
  }
  for (const m of ms) {
    const us = m.cpu.map((s) => Math.round((s / trials) * 1e6));
    console.log(`${m.arg}: ${us.join(' ')} CPU µs/trial (min ${Math.min(...us)}), report ${m.report === ms[0].report ? 'the same' : 'DIFFERENT'}`);
  }
  process.exit(0);
})();
