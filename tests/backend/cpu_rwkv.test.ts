import assert from "node:assert/strict";
import { CpuBackend } from "../../src/backend/cpu/mod.ts";
import { assertClose, dotLoss, randomTensorData } from "./_helpers.ts";
import { checkGradients } from "./gradcheck.ts";

Deno.test("cpu tokenShift: mixing with the previous token, zero or prev at t = 0", async () => {
  const cpu = new CpuBackend();
  const [B, T, C] = [2, 3, 4];
  const x = randomTensorData(B * T * C, 1),
    mix = randomTensorData(C, 2),
    prev = randomTensorData(B * C, 3);
  const out = cpu.zeros([B, T, C]);
  for (const withPrev of [false, true]) {
    cpu.tokenShift({
      out,
      x: cpu.fromArray([B, T, C], x),
      mix: cpu.fromArray([C], mix),
      prev: withPrev ? cpu.fromArray([B, C], prev) : null,
      B,
      T,
    });
    const expected = Array.from({ length: B * T * C }, (_, i) => {
      const c = i % C, t = Math.floor(i / C) % T, b = Math.floor(i / (T * C));
      const before = t > 0 ? x[i - C] : withPrev ? prev[b * C + c] : 0;
      return x[i] * mix[c] + before * (1 - mix[c]);
    });
    assertClose(await cpu.read(out), expected, 1e-6, `tokenShift prev ${withPrev}`);
  }
  assert.throws(
    () =>
      cpu.tokenShift({ out, x: cpu.zeros([B, T, C]), mix: cpu.zeros([C + 1]), prev: null, B, T }),
    /tokenShift: mix has shape \[5\]/,
  );
});

Deno.test("cpu tokenShiftBackward: finite differences", () => {
  for (const [B, T, C] of [[1, 1, 1], [2, 3, 17], [3, 17, 3]]) {
    for (const [withPrev, lerp] of [[false, false], [true, false], [true, true]]) {
      checkGradients(`tokenShift B${B} T${T} C${C} prev ${withPrev} lerp ${lerp}`, (cpu) => {
        const x = cpu.fromArray([B, T, C], randomTensorData(B * T * C, 1));
        const mix = cpu.fromArray([C], randomTensorData(C, 2));
        const prev = withPrev ? cpu.fromArray([B, C], randomTensorData(B * C, 3)) : null;
        const g = cpu.fromArray([B, T, C], randomTensorData(B * T * C, 4));
        const out = cpu.zeros([B, T, C]), dx = cpu.zeros([B, T, C]), dmix = cpu.zeros([C]);
        return {
          wrt: { x: { x, dx }, mix: { x: mix, dx: dmix } },
          loss:
            () => (cpu.tokenShift({ out, x, mix, prev, B, T, lerp }),
              dotLoss(cpu.array(out), cpu.array(g))),
          backward: () => cpu.tokenShiftBackward({ dx, dmix, dout: g, x, mix, prev, B, T, lerp }),
        };
      });
    }
  }
});

/** The textbook recurrence without any stabilisation (fine for small k). */
function naiveWkv(
  k: Float32Array,
  v: Float32Array,
  w: Float32Array,
  u: Float32Array,
  B: number,
  T: number,
  C: number,
) {
  const y = new Float64Array(B * T * C);
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      const decay = Math.exp(-Math.exp(w[c]));
      let a = 0, d = 0;
      for (let t = 0; t < T; t++) {
        const i = (b * T + t) * C + c;
        const bonus = Math.exp(u[c] + k[i]);
        y[i] = (a + bonus * v[i]) / (d + bonus);
        a = decay * a + Math.exp(k[i]) * v[i];
        d = decay * d + Math.exp(k[i]);
      }
    }
  }
  return y;
}

/** y_t as an explicit weighted average with exponents shifted by their maximum (any k). */
function explicitWkv(
  k: Float32Array,
  v: Float32Array,
  w: Float32Array,
  u: Float32Array,
  B: number,
  T: number,
  C: number,
) {
  const y = new Float64Array(B * T * C);
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      const decay = -Math.exp(w[c]);
      for (let t = 0; t < T; t++) {
        const at = (s: number) => (b * T + s) * C + c;
        const exps = Array.from(
          { length: t + 1 },
          (_, s) => s === t ? u[c] + k[at(t)] : (t - 1 - s) * decay + k[at(s)],
        );
        const max = Math.max(...exps);
        let num = 0, den = 0;
        exps.forEach((e, s) => {
          num += Math.exp(e - max) * v[at(s)];
          den += Math.exp(e - max);
        });
        y[at(t)] = num / den;
      }
    }
  }
  return y;
}

Deno.test("cpu wkv: matches the naive recurrence on small values", async () => {
  const cpu = new CpuBackend();
  for (const [B, T, C] of [[1, 1, 1], [2, 17, 3], [1, 64, 5]]) {
    const k = randomTensorData(B * T * C, 1), v = randomTensorData(B * T * C, 2);
    const w = randomTensorData(C, 3, 2), u = randomTensorData(C, 4);
    const y = cpu.zeros([B, T, C]);
    cpu.wkv({
      y,
      k: cpu.fromArray([B, T, C], k),
      v: cpu.fromArray([B, T, C], v),
      timeDecay: cpu.fromArray([C], w),
      timeFirst: cpu.fromArray([C], u),
      state: null,
      B,
      T,
    });
    assertClose(await cpu.read(y), naiveWkv(k, v, w, u, B, T, C), 1e-5, `wkv B${B} T${T} C${C}`);
  }
});

Deno.test("cpu wkv: stays finite and exact with huge k where the naive form overflows", async () => {
  const cpu = new CpuBackend();
  const [B, T, C] = [2, 33, 3];
  const k = randomTensorData(B * T * C, 5, 1000), v = randomTensorData(B * T * C, 6);
  const w = randomTensorData(C, 7, 3), u = randomTensorData(C, 8, 50);
  assert.ok(naiveWkv(k, v, w, u, B, T, C).some((x) => !Number.isFinite(x)), "naive form overflows");
  const y = cpu.zeros([B, T, C]);
  cpu.wkv({
    y,
    k: cpu.fromArray([B, T, C], k),
    v: cpu.fromArray([B, T, C], v),
    timeDecay: cpu.fromArray([C], w),
    timeFirst: cpu.fromArray([C], u),
    state: null,
    B,
    T,
  });
  assertClose(await cpu.read(y), explicitWkv(k, v, w, u, B, T, C), 1e-5, "wkv with huge k");
});

Deno.test("cpu wkv: state carried across two halves equals one call over the whole", async () => {
  const cpu = new CpuBackend();
  const [B, T, C] = [3, 17, 5];
  const k = randomTensorData(B * T * C, 1, 3), v = randomTensorData(B * T * C, 2);
  const w = cpu.fromArray([C], randomTensorData(C, 3)),
    u = cpu.fromArray([C], randomTensorData(C, 4));
  const emptyState = () => {
    const s = new Float32Array(B * 3 * C);
    for (let b = 0; b < B; b++) s.fill(-1e38, b * 3 * C + 2 * C, (b + 1) * 3 * C); // pp
    return cpu.fromArray([B, 3, C], s);
  };
  const whole = cpu.zeros([B, T, C]), wholeState = emptyState();
  cpu.wkv({
    y: whole,
    k: cpu.fromArray([B, T, C], k),
    v: cpu.fromArray([B, T, C], v),
    timeDecay: w,
    timeFirst: u,
    state: wholeState,
    B,
    T,
  });
  const noState = cpu.zeros([B, T, C]);
  cpu.wkv({
    y: noState,
    k: cpu.fromArray([B, T, C], k),
    v: cpu.fromArray([B, T, C], v),
    timeDecay: w,
    timeFirst: u,
    state: null,
    B,
    T,
  });
  assertClose(await cpu.read(noState), await cpu.read(whole), 0, "empty state == no state");
  const state = emptyState();
  const got = new Float32Array(B * T * C);
  for (const [t0, t1] of [[0, 8], [8, T]]) {
    const len = t1 - t0;
    const part = (x: Float32Array) => {
      const p = new Float32Array(B * len * C);
      for (let b = 0; b < B; b++) {
        p.set(x.subarray((b * T + t0) * C, (b * T + t1) * C), b * len * C);
      }
      return cpu.fromArray([B, len, C], p);
    };
    const y = cpu.zeros([B, len, C]);
    cpu.wkv({ y, k: part(k), v: part(v), timeDecay: w, timeFirst: u, state, B, T: len });
    const yd = await cpu.read(y);
    for (let b = 0; b < B; b++) {
      got.set(yd.subarray(b * len * C, (b + 1) * len * C), (b * T + t0) * C);
    }
  }
  assertClose(got, await cpu.read(whole), 1e-6, "wkv in two halves");
  assertClose(await cpu.read(state), await cpu.read(wholeState), 1e-6, "final state");
});

Deno.test("cpu wkvBackward: finite differences (small and large k)", () => {
  for (const [B, T, C, kScale] of [[1, 1, 1, 1], [2, 17, 3, 1], [1, 9, 2, 6], [2, 5, 1, 30]]) {
    checkGradients(`wkv B${B} T${T} C${C} k±${kScale}`, (cpu) => {
      const k = cpu.fromArray([B, T, C], randomTensorData(B * T * C, 1, kScale));
      const v = cpu.fromArray([B, T, C], randomTensorData(B * T * C, 2));
      const w = cpu.fromArray([C], randomTensorData(C, 3, 2)),
        u = cpu.fromArray([C], randomTensorData(C, 4));
      const g = cpu.fromArray([B, T, C], randomTensorData(B * T * C, 5));
      const y = cpu.zeros([B, T, C]);
      const dk = cpu.zeros([B, T, C]),
        dv = cpu.zeros([B, T, C]),
        dw = cpu.zeros([C]),
        du = cpu.zeros([C]);
      return {
        wrt: {
          k: { x: k, dx: dk },
          v: { x: v, dx: dv },
          timeDecay: { x: w, dx: dw },
          timeFirst: { x: u, dx: du },
        },
        loss:
          () => (cpu.wkv({ y, k, v, timeDecay: w, timeFirst: u, state: null, B, T }),
            dotLoss(cpu.array(y), cpu.array(g))),
        backward: () =>
          cpu.wkvBackward({ dw, du, dk, dv, dy: g, k, v, timeDecay: w, timeFirst: u, B, T }),
      };
    }, { f32Tol: { atol: 1e-4, rtol: 1e-3 } });
  }
});
