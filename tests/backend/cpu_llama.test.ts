// The Llama ops of the CPU backend (rmsNorm, rope, swiglu and grouped-query attention) against
// explicit float64 formulas and finite differences in float64 (tests/backend/gradcheck.ts).
import assert from "node:assert/strict";
import { CpuBackend } from "../../src/backend/cpu/mod.ts";
import type { AttentionDims } from "../../src/backend/backend.ts";
import { assertClose, dotLoss, randomTensorData } from "./_helpers.ts";
import { checkGradients } from "./gradcheck.ts";

/** cos/sin tables `[Tmax, hd/2]` as Hugging Face computes them: angle p·theta^(−2i/hd). */
function ropeTables(Tmax: number, hd: number, theta = 10000) {
  const half = hd / 2, cos = new Float32Array(Tmax * half), sin = new Float32Array(Tmax * half);
  for (let p = 0; p < Tmax; p++) {
    for (let i = 0; i < half; i++) {
      const angle = p * Math.pow(theta, (-2 * i) / hd);
      cos[p * half + i] = Math.cos(angle);
      sin[p * half + i] = Math.sin(angle);
    }
  }
  return { cos, sin };
}

Deno.test("cpu rmsNorm: forward formula, saved rstd, bad shapes", async () => {
  const cpu = new CpuBackend();
  for (const [N, C, eps] of [[1, 1, 1e-6], [3, 17, 1e-5], [5, 64, 1e-6]]) {
    const x = randomTensorData(N * C, N + C, 3), w = randomTensorData(C, 2);
    const out = cpu.zeros([N, C]), rstd = cpu.zeros([N]);
    cpu.rmsNorm({ out, rstd, x: cpu.fromArray([N, C], x), w: cpu.fromArray([C], w), eps });
    const expected: number[] = [], rstds: number[] = [];
    for (let n = 0; n < N; n++) {
      const row = Array.from(x.subarray(n * C, (n + 1) * C));
      const s = 1 / Math.sqrt(row.reduce((p, v) => p + v * v, 0) / C + eps);
      row.forEach((v, c) => expected.push(v * s * w[c]));
      rstds.push(s);
    }
    assertClose(await cpu.read(out), expected, 1e-5, `rmsNorm N${N} C${C}`);
    assertClose(await cpu.read(rstd), rstds, 1e-5, `rmsNorm rstd N${N} C${C}`);
  }
  assert.throws(
    () =>
      cpu.rmsNorm({
        out: cpu.zeros([2, 3]),
        rstd: cpu.zeros([2]),
        x: cpu.zeros([2, 3]),
        w: cpu.zeros([4]),
        eps: 1e-6,
      }),
    /rmsNorm: w has shape \[4\]/,
  );
});

Deno.test("cpu rmsNormBackward: finite differences", () => {
  for (const [N, C] of [[1, 1], [1, 3], [3, 17], [17, 3]]) {
    checkGradients(`rmsNorm N${N} C${C}`, (cpu) => {
      const x = cpu.fromArray([N, C], randomTensorData(N * C, 1, 2));
      const w = cpu.fromArray([C], randomTensorData(C, 2));
      const g = cpu.fromArray([N, C], randomTensorData(N * C, 4));
      const out = cpu.zeros([N, C]), rstd = cpu.zeros([N]);
      const dx = cpu.zeros([N, C]), dw = cpu.zeros([C]);
      return {
        wrt: { x: { x, dx }, w: { x: w, dx: dw } },
        loss:
          () => (cpu.rmsNorm({ out, rstd, x, w, eps: 1e-5 }),
            dotLoss(cpu.array(out), cpu.array(g))),
        backward: () => cpu.rmsNormBackward({ dx, dw, dout: g, x, w, rstd }),
      };
    }, { f32Tol: { atol: 1e-4, rtol: 1e-3 } });
  }
});

Deno.test("cpu rope: HF rotate_half layout, posOffset, copied columns, in place", async () => {
  const cpu = new CpuBackend();
  const [B, T, hd, heads, W, Tmax] = [2, 3, 4, 2, 11, 8]; // 2 rotated heads, 3 copied columns
  const { cos, sin } = ropeTables(Tmax, hd, 100);
  const tCos = cpu.fromArray([Tmax, hd / 2], cos), tSin = cpu.fromArray([Tmax, hd / 2], sin);
  const x = randomTensorData(B * T * W, 5);
  for (const posOffset of [0, 5]) {
    const out = cpu.zeros([B, T, W]);
    const args = { cos: tCos, sin: tSin, B, T, headDim: hd, rotatedHeads: heads, posOffset };
    cpu.rope({ out, x: cpu.fromArray([B, T, W], x), ...args });
    // HF: q·cos + rotate_half(q)·sin with cos, sin = cat(freqs, freqs).
    const expected = Float64Array.from(x);
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        const p = posOffset + t, row = (b * T + t) * W;
        for (let h = 0; h < heads; h++) {
          for (let d = 0; d < hd; d++) {
            const i = d % (hd / 2), angle = p * Math.pow(100, (-2 * i) / hd);
            const rot = d < hd / 2 ? -x[row + h * hd + d + hd / 2] : x[row + h * hd + d - hd / 2];
            expected[row + h * hd + d] = x[row + h * hd + d] * Math.cos(angle) +
              rot * Math.sin(angle);
          }
        }
      }
    }
    assertClose(await cpu.read(out), expected, 1e-6, `rope posOffset ${posOffset}`);
    const inPlace = cpu.fromArray([B, T, W], x);
    cpu.rope({ out: inPlace, x: inPlace, ...args });
    assertClose(await cpu.read(inPlace), expected, 1e-6, `rope in place, posOffset ${posOffset}`);
  }
  assert.throws(
    () =>
      cpu.rope({
        out: cpu.zeros([B, T, W]),
        x: cpu.zeros([B, T, W]),
        cos: tCos,
        sin: tSin,
        B,
        T,
        headDim: hd,
        rotatedHeads: 2,
        posOffset: 6,
      }),
    /rope: positions 6…8 exceed cos \[8, 2\]/,
  );
  assert.throws(
    () =>
      cpu.rope({
        out: cpu.zeros([B, T, W]),
        x: cpu.zeros([B, T, W]),
        cos: tCos,
        sin: tSin,
        B,
        T,
        headDim: hd,
        rotatedHeads: 3,
      }),
    /rope: rotatedHeads 3 × headDim 4 exceeds the row width 11/,
  );
});

Deno.test("cpu ropeBackward: finite differences", () => {
  for (const [B, T, hd, heads, W] of [[1, 1, 2, 1, 2], [2, 5, 4, 3, 14], [1, 7, 8, 2, 24]]) {
    checkGradients(`rope B${B} T${T} hd${hd} heads${heads} W${W}`, (cpu) => {
      const { cos, sin } = ropeTables(T, hd);
      const tables = {
        cos: cpu.fromArray([T, hd / 2], cos),
        sin: cpu.fromArray([T, hd / 2], sin),
      };
      const x = cpu.fromArray([B, T, W], randomTensorData(B * T * W, 1, 2));
      const g = cpu.fromArray([B, T, W], randomTensorData(B * T * W, 2));
      const out = cpu.zeros([B, T, W]), dx = cpu.zeros([B, T, W]);
      const shape = { ...tables, B, T, headDim: hd, rotatedHeads: heads };
      return {
        wrt: { x: { x, dx } },
        loss: () => (cpu.rope({ out, x, ...shape }), dotLoss(cpu.array(out), cpu.array(g))),
        backward: () => cpu.ropeBackward({ dx, dout: g, ...shape }),
      };
    });
  }
});

Deno.test("cpu swiglu: forward formula and finite differences", async () => {
  const cpu = new CpuBackend();
  const n = 33;
  const gate = randomTensorData(n, 1, 6), up = randomTensorData(n, 2, 2);
  gate[0] = -200, gate[1] = 200; // far tails must stay finite
  const out = cpu.zeros([n]);
  cpu.swiglu(out, cpu.fromArray([n], gate), cpu.fromArray([n], up));
  const expected = Array.from(gate, (g, i) => (g / (1 + Math.exp(-g))) * up[i]);
  assertClose(await cpu.read(out), expected, 1e-6, "swiglu");
  assert.throws(
    () => cpu.swiglu(cpu.zeros([3]), cpu.zeros([3]), cpu.zeros([4])),
    /swiglu: gate \[3\] and up \[4\] differ in size/,
  );
  for (const size of [1, 17, 64]) {
    checkGradients(`swiglu ${size}`, (cpu) => {
      const gate = cpu.fromArray([size], randomTensorData(size, 3, 4));
      const up = cpu.fromArray([size], randomTensorData(size, 4, 2));
      const g = cpu.fromArray([size], randomTensorData(size, 5));
      const out = cpu.zeros([size]), dgate = cpu.zeros([size]), dup = cpu.zeros([size]);
      return {
        wrt: { gate: { x: gate, dx: dgate }, up: { x: up, dx: dup } },
        loss: () => (cpu.swiglu(out, gate, up), dotLoss(cpu.array(out), cpu.array(g))),
        backward: () => cpu.swigluBackward({ dgate, dup, dout: g, gate, up }),
      };
    });
  }
});

/** Explicit float64 grouped-query attention; query head h reads kv head floor(h/(NH/NKV)). */
function referenceGqa(qkv: Float32Array, dims: AttentionDims & { NKV: number }) {
  const { B, T, C, NH, NKV } = dims;
  const hd = C / NH, W = C + 2 * NKV * hd, group = NH / NKV;
  const out = new Float64Array(B * T * C);
  const q = (b: number, t: number, h: number, d: number) => qkv[(b * T + t) * W + h * hd + d];
  const k = (b: number, t: number, g: number, d: number) => qkv[(b * T + t) * W + C + g * hd + d];
  const v = (b: number, t: number, g: number, d: number) =>
    qkv[(b * T + t) * W + C + NKV * hd + g * hd + d];
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      const g = Math.floor(h / group);
      for (let t = 0; t < T; t++) {
        const scores = Array.from({ length: t + 1 }, (_, s) => {
          let dot = 0;
          for (let d = 0; d < hd; d++) dot += q(b, t, h, d) * k(b, s, g, d);
          return dot / Math.sqrt(hd);
        });
        const max = Math.max(...scores);
        const exps = scores.map((s) => Math.exp(s - max));
        const sum = exps.reduce((p, x) => p + x, 0);
        for (let d = 0; d < hd; d++) {
          let o = 0;
          for (let s = 0; s <= t; s++) o += (exps[s] / sum) * v(b, s, g, d);
          out[(b * T + t) * C + h * hd + d] = o;
        }
      }
    }
  }
  return out;
}

const GQA_DIMS: (AttentionDims & { NKV: number })[] = [
  { B: 1, T: 1, C: 2, NH: 2, NKV: 1 },
  { B: 2, T: 5, C: 8, NH: 4, NKV: 2 }, // groups of 2
  { B: 1, T: 7, C: 12, NH: 6, NKV: 1 }, // multi-query
  { B: 2, T: 4, C: 6, NH: 3, NKV: 3 }, // NKV = NH: plain multi-head with the field set
  { B: 1, T: 70, C: 8, NH: 4, NKV: 2 }, // two blocks of 64 queries
];

const width = ({ C, NH, NKV }: AttentionDims & { NKV: number }) => C + 2 * NKV * (C / NH);

Deno.test("cpu attention with NKV: forward vs explicit grouped-query attention", async () => {
  const cpu = new CpuBackend();
  for (const dims of GQA_DIMS) {
    const { B, T, C, NH } = dims, W = width(dims);
    const qkv = randomTensorData(B * T * W, T + C, 2);
    const out = cpu.zeros([B, T, C]), lse = cpu.zeros([B, NH, T]);
    cpu.attention({ out, lse, qkv: cpu.fromArray([B, T, W], qkv), dims });
    assertClose(await cpu.read(out), referenceGqa(qkv, dims), 1e-5, `GQA ${JSON.stringify(dims)}`);
  }
  const bad = (NKV: number) => () =>
    cpu.attention({
      out: cpu.zeros([1, 2, 4]),
      lse: cpu.zeros([4]),
      qkv: cpu.zeros([1, 2, 12]),
      dims: { B: 1, T: 2, C: 4, NH: 2, NKV },
    });
  assert.throws(bad(3), /attention: invalid dims NKV 3 \(key\/value heads must divide NH 2\)/);
  assert.throws(bad(0), /attention: invalid dims NKV 0/);
  assert.throws(bad(1), /attention: qkv has shape \[1, 2, 12\] .*\[B, T, \(NH \+ 2·NKV\)·hd\]/);
});

Deno.test("cpu attentionBackward with NKV: finite differences (shared kv heads accumulate)", () => {
  for (const dims of GQA_DIMS) {
    const { B, T, C, NH } = dims, W = width(dims);
    checkGradients(`GQA attention ${JSON.stringify(dims)}`, (cpu) => {
      const qkv = cpu.fromArray([B, T, W], randomTensorData(B * T * W, 1, 1.5));
      const g = cpu.fromArray([B, T, C], randomTensorData(B * T * C, 2));
      const out = cpu.zeros([B, T, C]), lse = cpu.zeros([B, NH, T]), dqkv = cpu.zeros([B, T, W]);
      return {
        wrt: { qkv: { x: qkv, dx: dqkv } },
        loss: () => (cpu.attention({ out, lse, qkv, dims }), dotLoss(cpu.array(out), cpu.array(g))),
        backward: () => cpu.attentionBackward({ dqkv, dout: g, out, lse, qkv, dims }),
      };
    }, { maxChecks: 64 });
  }
});

Deno.test("cpu attentionCached with NKV: caches of kv heads only, equal to full attention", async () => {
  const cpu = new CpuBackend();
  for (const NKV of [2, 1]) {
    const [B, T, C, NH, Tmax] = [2, 9, 8, 4, 12];
    const dims = { B, T, C, NH, NKV }, W = width(dims), KV = NKV * (C / NH);
    const qkvData = randomTensorData(B * T * W, 7 + NKV, 2);
    const full = cpu.zeros([B, T, C]);
    cpu.attention({
      out: full,
      lse: cpu.zeros([B, NH, T]),
      qkv: cpu.fromArray([B, T, W], qkvData),
      dims,
    });
    const expected = await cpu.read(full);
    const kCache = cpu.zeros([B, Tmax, KV]), vCache = cpu.zeros([B, Tmax, KV]);
    const got = new Float32Array(B * T * C);
    let pos = 0;
    for (const len of [4, 1, 4]) {
      const chunk = new Float32Array(B * len * W);
      for (let b = 0; b < B; b++) {
        chunk.set(qkvData.subarray((b * T + pos) * W, (b * T + pos + len) * W), b * len * W);
      }
      const out = cpu.zeros([B, len, C]);
      cpu.attentionCached({
        out,
        qkv: cpu.fromArray([B, len, W], chunk),
        kCache,
        vCache,
        pos,
        dims: { ...dims, T: len },
      });
      const o = await cpu.read(out);
      for (let b = 0; b < B; b++) {
        got.set(o.subarray(b * len * C, (b + 1) * len * C), (b * T + pos) * C);
      }
      pos += len;
    }
    assertClose(got, expected, 1e-6, `attentionCached NKV ${NKV} vs attention`);
    // The value cache holds the v heads of every position: batch 1, position 3.
    const v = await cpu.read(vCache);
    const row = (T + 3) * W;
    assertClose(
      v.subarray((Tmax + 3) * KV, (Tmax + 4) * KV),
      qkvData.subarray(row + C + KV, row + C + 2 * KV),
      0,
      `vCache NKV ${NKV} b1 t3`,
    );
    assert.throws(
      () =>
        cpu.attentionCached({
          out: cpu.zeros([B, 1, C]),
          qkv: cpu.zeros([B, 1, W]),
          kCache: cpu.zeros([B, Tmax, C]),
          vCache: cpu.zeros([B, Tmax, C]),
          pos: 0,
          dims: { ...dims, T: 1 },
        }),
      /attentionCached: kCache \[2, 12, 8\] is not \[B, Tmax, NKV·hd\]/,
    );
  }
});
