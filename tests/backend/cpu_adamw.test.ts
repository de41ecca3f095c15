import assert from "node:assert/strict";
import { CpuBackend } from "../../src/backend/cpu/mod.ts";
import type { AdamWParams } from "../../src/backend/backend.ts";
import { assertClose, randomTensorData } from "./_helpers.ts";

/** The documented AdamW update, written out in float64. */
function referenceAdamW(
  p: Float64Array,
  g: Float32Array,
  m: Float64Array,
  v: Float64Array,
  mask: Float32Array | null,
  hp: AdamWParams,
  clip: number,
): void {
  for (let i = 0; i < p.length; i++) {
    const gi = g[i] * hp.gradScale * clip;
    m[i] = hp.beta1 * m[i] + (1 - hp.beta1) * gi;
    v[i] = hp.beta2 * v[i] + (1 - hp.beta2) * gi * gi;
    const mHat = m[i] / (1 - hp.beta1 ** hp.step), vHat = v[i] / (1 - hp.beta2 ** hp.step);
    const decay = mask ? mask[i] * hp.weightDecay : hp.weightDecay;
    p[i] -= hp.lr * (mHat / (Math.sqrt(vHat) + hp.eps) + decay * p[i]);
  }
}

Deno.test("cpu adamw: three steps with decay mask, grad scale and clipping vs the formula", async () => {
  const cpu = new CpuBackend();
  for (const n of [1, 3, 17, 1000]) {
    const p0 = randomTensorData(n, 1), mask = randomTensorData(n, 2).map((x) => (x > 0 ? 1 : 0));
    const params = cpu.fromArray([n], p0), m = cpu.zeros([n]), v = cpu.zeros([n]);
    const decayMask = cpu.fromArray([n], mask),
      normSquared = cpu.zeros([1]),
      grads = cpu.zeros([n]);
    const rp = Float64Array.from(p0), rm = new Float64Array(n), rv = new Float64Array(n);
    for (let step = 1; step <= 3; step++) {
      const g = randomTensorData(n, 10 + step, 3);
      cpu.write(grads, g);
      const hp: AdamWParams = {
        lr: 1e-2,
        beta1: 0.9,
        beta2: 0.95,
        eps: 1e-8,
        weightDecay: 0.1,
        step,
        gradScale: 0.5,
      };
      // Step 2 is clipped (norm 20 > 1), steps 1 and 3 are not (norm 0.5 < 1).
      const ns = step === 2 ? 400 : 0.25;
      cpu.write(normSquared, new Float32Array([ns]));
      cpu.adamw({ params, grads, m, v, decayMask, hp, clip: { normSquared, maxNorm: 1 } });
      referenceAdamW(rp, g, rm, rv, mask, hp, Math.min(1, 1 / Math.sqrt(ns)));
      assertClose(await cpu.read(params), rp, 1e-6, `adamw n=${n} step ${step} params`);
      assertClose(await cpu.read(m), rm, 1e-6, `adamw n=${n} step ${step} m`);
      assertClose(await cpu.read(v), rv, 1e-6, `adamw n=${n} step ${step} v`);
    }
  }
});

Deno.test("cpu adamw: first step moves each weight by about lr against its gradient", async () => {
  // Bias correction makes step 1 exactly lr·g/(|g|+eps) ≈ lr·sign(g), whatever the betas.
  const cpu = new CpuBackend();
  const params = cpu.fromArray([4], new Float32Array([1, 1, 1, 1]));
  const grads = cpu.fromArray([4], new Float32Array([3, -0.001, 1e3, -2]));
  const hp: AdamWParams = {
    lr: 0.1,
    beta1: 0.8,
    beta2: 0.99,
    eps: 1e-8,
    weightDecay: 0,
    step: 1,
    gradScale: 1,
  };
  cpu.adamw({ params, grads, m: cpu.zeros([4]), v: cpu.zeros([4]), decayMask: null, hp });
  assertClose(await cpu.read(params), [0.9, 1.1, 0.9, 1.1], 1e-5, "adamw first step");
  // Decoupled decay: with a zero gradient, the weight shrinks by lr·wd·p only where masked.
  const p2 = cpu.fromArray([2], new Float32Array([2, 2]));
  cpu.adamw({
    params: p2,
    grads: cpu.zeros([2]),
    m: cpu.zeros([2]),
    v: cpu.zeros([2]),
    decayMask: cpu.fromArray([2], new Float32Array([1, 0])),
    hp: {
      ...hp,
      weightDecay: 0.5,
    },
  });
  assertClose(await cpu.read(p2), [2 - 0.1 * 0.5 * 2, 2], 1e-6, "adamw decoupled decay");
  assert.throws(
    () =>
      cpu.adamw({
        params,
        grads: cpu.zeros([3]),
        m: cpu.zeros([4]),
        v: cpu.zeros([4]),
        decayMask: null,
        hp,
      }),
    /adamw: grads \[3\] and params \[4\] differ in size/,
  );
});
