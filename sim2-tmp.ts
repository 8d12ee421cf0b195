import { Random } from './src/demo/random.ts';
import { failureSequential, latencySequential } from './src/core/compare/sequential.ts';
const binom = (rng: Random, n: number, p: number) => { let k = 0; for (let i = 0; i < n; i++) if (rng.next() < p) k++; return k; };
function run(seed: number, pR: number, pF: number, perMin: number, share: number, looks: number) {
  const rng = new Random(seed); const R = { events: 0, trials: 0 }, F = { events: 0, trials: 0 };
  let worse = -1, nw = -1;
  for (let look = 1; look <= looks; look++) {
    const nR = rng.poisson(perMin * share / 2), nF = rng.poisson(perMin * (1 - share) / 2);
    R.trials += nR; R.events += binom(rng, nR, pR); F.trials += nF; F.events += binom(rng, nF, pF);
    const v = failureSequential(R, F, { confidence: 0.95, minSamples: 200, marginPp: 1 });
    if (worse < 0 && v.verdict === 'worse') worse = look;
    if (nw < 0 && v.verdict === 'not_worse') nw = look;
  }
  return { worse, nw };
}
console.time('f');
const q = (a: number[]) => { a.sort((x, y) => x - y); return `median ${a[a.length >> 1]} p90 ${a[Math.floor(a.length * .9)]}`; };
for (const share of [0.1, 0.5]) { const t: number[] = []; let w = 0; for (let s = 0; s < 300; s++) { const r = run(100 + s, 0.007, 0.007, 368, share, 360); t.push(r.nw < 0 ? Infinity : r.nw / 2); if (r.worse > 0) w++; } console.log('null share', share, 'not_worse min', q(t), 'worse', w); }
{ let nw = 0; for (let s = 0; s < 300; s++) if (run(700 + s, 0.027, 0.007, 368, 0.1, 360).nw > 0) nw++; console.log('2pp false not_worse', nw); }
console.timeEnd('f');
