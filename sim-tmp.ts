import { Random } from './src/demo/random.ts';
import { failureDifference } from './src/core/compare/proportions.ts';
import { p95Ratio, p95SampleOf } from './src/core/compare/quantile.ts';
import { costRatio, momentsOf } from './src/core/compare/means.ts';
import { failureSequential, latencySequential } from './src/core/compare/sequential.ts';

const binom = (rng: Random, n: number, p: number) => { let k = 0; for (let i = 0; i < n; i++) if (rng.next() < p) k++; return k; };
function covFail(nR: number, nF: number, pR: number, pF: number, seed: number) {
  const rng = new Random(seed); let cov = 0, none = 0;
  for (let i = 0; i < 1000; i++) {
    const c = failureDifference({ events: binom(rng, nR, pR), trials: nR }, { events: binom(rng, nF, pF), trials: nF });
    if (!c.ok) { none++; continue; }
    const t = 100 * (pR - pF); if (c.interval.lower <= t && t <= c.interval.upper) cov++;
  }
  return cov / 1000;
}
console.time('fail');
for (const [nR, nF, pR, pF] of [[184, 1656, 0.007, 0.007], [50, 450, 0.007, 0.007], [184, 1656, 0.027, 0.007], [50, 450, 0.02, 0.005], [1840, 1840, 0.007, 0.007], [20, 20, 0.3, 0.1]]) console.log('fail', nR, nF, pR, pF, covFail(nR, nF, pR, pF, 7));
console.timeEnd('fail');
const lat = (rng: Random, median: number) => { const x = rng.logNormal(median, 0.55); return rng.chance(0.005) ? x * (5 + 15 * rng.next()) : x; };
// true p95 by big sample
function trueP95(median: number) { const rng = new Random(99); const a = Float64Array.from({ length: 2_000_000 }, () => lat(rng, median)).sort(); return a[Math.floor(0.95 * a.length)]; }
const tR = trueP95(2700), tF = trueP95(2500); const truth = tR / tF; console.log('true ratio', truth, tR, tF);
console.time('p95');
for (const [nR, nF] of [[184, 1656], [80, 720], [1000, 1000]]) {
  const rng = new Random(11); let cov = 0, n = 0;
  for (let i = 0; i < 1000; i++) {
    const r = Float64Array.from({ length: nR }, () => lat(rng, 2700)).sort();
    const f = Float64Array.from({ length: nF }, () => lat(rng, 2500)).sort();
    const c = p95Ratio(p95SampleOf(r)!, p95SampleOf(f)!);
    if (!c.ok) continue; n++;
    if (c.interval.lower <= truth && truth <= c.interval.upper) cov++;
  }
  console.log('p95', nR, nF, cov / n, n);
}
console.timeEnd('p95');
{
  const rng = new Random(5); let cov = 0;
  const truth = 0.0045 / 0.005;
  for (let i = 0; i < 1000; i++) {
    const r = Array.from({ length: 184 }, () => rng.logNormal(0.0045, 0.3) / Math.exp(0.045));
    const f = Array.from({ length: 1656 }, () => rng.logNormal(0.005, 0.3) / Math.exp(0.045));
    const c = costRatio(momentsOf(r), momentsOf(f));
    if (c.ok && c.interval.lower <= truth && truth <= c.interval.upper) cov++;
  }
  console.log('cost', cov / 1000);
}
// sequential: D1 3h, evaluations every 30s
function seqRun(seed: number, pR: number, pF: number, perMin: number, share: number, looks: number, medR = 2500) {
  const rng = new Random(seed);
  const R = { events: 0, trials: 0 }, F = { events: 0, trials: 0 };
  const LR = { n: 0, sumLog: 0, sumLogSquares: 0 }, LF = { n: 0, sumLog: 0, sumLogSquares: 0 };
  let failWorse = -1, latWorse = -1;
  for (let look = 1; look <= looks; look++) {
    const n = rng.poisson(perMin / 2);
    for (let i = 0; i < n; i++) {
      const isR = rng.chance(share);
      const P = isR ? R : F; P.trials++; if (rng.chance(isR ? pR : pF)) P.events++;
      const L = isR ? LR : LF; const l = Math.log(lat(rng, isR ? medR : 2500)); L.n++; L.sumLog += l; L.sumLogSquares += l * l;
    }
    if (failWorse < 0 && failureSequential(R, F, { confidence: 0.95, minSamples: 200, marginPp: 1 }).verdict === 'worse') failWorse = look;
    if (latWorse < 0 && latencySequential(LR, LF, { confidence: 0.95, minSamples: 200, marginRatio: 1.1 }).verdict === 'worse') latWorse = look;
  }
  return { failWorse, latWorse, R, F };
}
console.time('seq');
let fw = 0, lw = 0; const runs = 300;
for (let s = 1; s <= runs; s++) { const r = seqRun(1000 + s, 0.007, 0.007, 368, 0.1, 360); if (r.failWorse > 0) fw++; if (r.latWorse > 0) lw++; }
console.log('null D1 3h: fail worse', fw / runs, 'lat worse', lw / runs);
fw = 0; lw = 0;
for (let s = 1; s <= runs; s++) { const r = seqRun(5000 + s, 0.007, 0.007, 368, 0.5, 360); if (r.failWorse > 0) fw++; if (r.latWorse > 0) lw++; }
console.log('null D2 3h: fail worse', fw / runs, 'lat worse', lw / runs);
const times: number[] = [];
for (let s = 1; s <= runs; s++) { const r = seqRun(9000 + s, 0.027, 0.007, 368, 0.1, 360); times.push(r.failWorse < 0 ? Infinity : r.failWorse / 2); }
times.sort((a, b) => a - b);
console.log('2pp D1 detect minutes: median', times[runs / 2], 'p90', times[Math.floor(runs * 0.9)], 'p99', times[Math.floor(runs * 0.99)], 'max', times[runs - 1]);
console.timeEnd('seq');
