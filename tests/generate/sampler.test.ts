import assert from "node:assert/strict";
import {
  applyRepetitionPenalty,
  resolveSampling,
  Rng,
  Sampler,
  topCandidates,
} from "../../src/generate/sampler.ts";

const logits = new Float32Array([0, Math.log(2), Math.log(4), -5, 1.2]);

function histogram(s: Sampler, l: Float32Array, n: number, ctx: number[] = []): number[] {
  const h = new Array(l.length).fill(0);
  for (let i = 0; i < n; i++) h[s.sample(l, ctx)]++;
  return h;
}

Deno.test("greedy: temperature 0 picks the argmax, always", () => {
  const s = new Sampler({ temperature: 0, seed: 1 });
  for (let i = 0; i < 10; i++) assert.equal(s.sample(logits), 2);
});

Deno.test("same seed, same draws; another seed, other draws", () => {
  const draw = (seed: number) => {
    const s = new Sampler({ temperature: 1, seed });
    return Array.from({ length: 50 }, () => s.sample(logits));
  };
  assert.deepEqual(draw(42), draw(42));
  assert.notDeepEqual(draw(42), draw(43));
  const a = new Rng(9), b = new Rng(9);
  for (let i = 0; i < 5; i++) assert.equal(a.next(), b.next());
});

Deno.test("temperature 1 follows the softmax; higher temperature is flatter", () => {
  const l = new Float32Array([0, Math.log(2), Math.log(4)]);
  const h = histogram(new Sampler({ temperature: 1, seed: 5 }), l, 20000);
  [1 / 7, 2 / 7, 4 / 7].forEach((p, i) => assert.ok(Math.abs(h[i] / 20000 - p) < 0.015, `id ${i}`));
  const cold = histogram(new Sampler({ temperature: 0.3, seed: 5 }), l, 5000)[2];
  const hot = histogram(new Sampler({ temperature: 3, seed: 5 }), l, 5000)[2];
  assert.ok(cold > hot + 1000, `cold ${cold} hot ${hot}`);
});

Deno.test("top-k keeps only the k most likely tokens", () => {
  const h = histogram(new Sampler({ temperature: 5, topK: 2, seed: 3 }), logits, 3000);
  assert.deepEqual(h.map((c, i) => c > 0 ? i : -1).filter((i) => i >= 0), [2, 4]);
  const one = new Sampler({ temperature: 10, topK: 1, seed: 3 });
  for (let i = 0; i < 20; i++) assert.equal(one.sample(logits), 2);
});

Deno.test("top-p keeps the smallest set reaching the mass p", () => {
  // probabilities 0.5, 0.3, 0.15, 0.05
  const l = new Float32Array([0.5, 0.3, 0.15, 0.05].map(Math.log));
  const seen = (p: number) => {
    const h = histogram(new Sampler({ temperature: 1, topP: p, seed: 11 }), l, 4000);
    return h.map((c, i) => c > 0 ? i : -1).filter((i) => i >= 0);
  };
  assert.deepEqual(seen(0.4), [0]);
  assert.deepEqual(seen(0.7), [0, 1]);
  assert.deepEqual(seen(0.9), [0, 1, 2]);
  assert.deepEqual(seen(1), [0, 1, 2, 3]);
  // Inside the nucleus the proportions are renormalised: 0.5/0.8 and 0.3/0.8.
  const h = histogram(new Sampler({ temperature: 1, topP: 0.7, seed: 2 }), l, 20000);
  assert.ok(Math.abs(h[0] / 20000 - 0.625) < 0.015);
});

Deno.test("repetition penalty demotes tokens already in the context", () => {
  const l = new Float32Array([2, 1.9, -1, -1.1]);
  applyRepetitionPenalty(l, [0, 0, 2], 2);
  assert.deepEqual(Array.from(l), [1, 1.899999976158142, -2, -1.100000023841858]);
  const s = new Sampler({ temperature: 0, repetitionPenalty: 1.5 });
  const base = new Float32Array([2, 1.9, 0]);
  assert.equal(s.sample(base, [0]), 1);
  assert.equal(s.sample(base, [1]), 0);
  assert.equal(base[0], 2, "the caller's logits are not modified");
  // The window limits how far back it looks.
  const w = new Sampler({ temperature: 0, repetitionPenalty: 1.5, repetitionWindow: 2 });
  assert.equal(w.sample(base, [0, 2, 2]), 0);
});

Deno.test("topCandidates: most likely first, with softmax probabilities", () => {
  const top = topCandidates(logits, 3);
  assert.deepEqual(top.map((c) => c.id), [2, 4, 1]);
  const z = Array.from(logits).reduce((a, x) => a + Math.exp(x), 0);
  assert.ok(Math.abs(top[0].prob - Math.exp(logits[2]) / z) < 1e-9);
  assert.equal(topCandidates(logits, 99).length, logits.length);
});

Deno.test("bad knobs are refused with a message naming them", () => {
  assert.throws(() => resolveSampling({ topP: 1.5 }), /top-p must be in \(0, 1\], got 1.5/);
  assert.throws(() => resolveSampling({ topP: 0 }), /top-p/);
  assert.throws(() => resolveSampling({ temperature: -0.1 }), /temperature must be ≥ 0/);
  assert.throws(() => resolveSampling({ temperature: NaN }), /temperature must be a finite number/);
  assert.throws(() => resolveSampling({ topK: 2.5 }), /top-k must be an integer/);
  assert.throws(() => resolveSampling({ repetitionPenalty: 0 }), /repetition penalty/);
  assert.throws(() => resolveSampling({ seed: -1 }), /seed/);
  assert.equal(resolveSampling({ seed: 3 }).temperature, 0.8);
});

Deno.test("Sampler: the arrays it keeps between draws carry nothing from one draw into the next", () => {
  // Logits with ties and repeats, different from draw to draw.
  const logits = (seed: number) => {
    let x = seed;
    return Float32Array.from({ length: 997 }, () => {
      x = (x * 1103515245 + 12345) >>> 0;
      return ((x >>> 8) % 50) / 7;
    });
  };
  const context = [5, 17, 17, 300];
  for (
    const knobs of [{}, { topP: 0.9 }, { topK: 50 }, { repetitionPenalty: 1.3 }, {
      topP: 0.5,
      repetitionPenalty: 0.8,
    }]
  ) {
    const options = { temperature: 0.9, seed: 11, ...knobs };
    const kept = new Sampler(options);
    for (let draw = 0; draw < 6; draw++) {
      const l = logits(draw + 1);
      // A new sampler, its generator advanced past the earlier draws, draws with fresh arrays.
      const fresh = new Sampler(options);
      for (let i = 0; i < draw; i++) fresh.rng.next();
      const expected = fresh.sample(l, context);
      assert.equal(kept.sample(l, context), expected, `${JSON.stringify(knobs)}, draw ${draw}`);
      assert.deepEqual(l, logits(draw + 1), "the caller's logits are left as they were");
    }
  }
});
