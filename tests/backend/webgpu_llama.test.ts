// WebGPU Llama ops vs the CPU backend (their twins, themselves checked against float64 finite
// differences in cpu_llama.test.ts): rmsNorm, rope, swiglu, forward and backward, and
// grouped-query attention (dims.NKV) in every attention kernel — the generic one (head sizes
// not a multiple of 4), the vec4 one, their backwards, the KV-cached prompt and the chunked
// decoding of one token. Shapes are small and odd, both widths of every width-generic kernel
// run (C % 4 = 0 and not), NKV = 1 (multi-query), 1 < NKV < NH and NKV = NH, posOffset > 0.
// Tolerances as in webgpu_gpt.test.ts: 1e-6 for elementwise ops and rotations, 1e-5 for O(C)
// sums, 1e-4 for gradients through exp and long dot products.
import { randomTensorData as rnd } from "./_helpers.ts";
import { gpuBackend, gpuTest, type Input, parity } from "./webgpu_parity.ts";

const f = (shape: number[], seed: number, scale = 1): Input => [
  shape,
  rnd(shape.reduce((a, b) => a * b, 1), seed, scale),
];

/** cos/sin tables `[Tmax, hd/2]` (angle p·theta^(−2i/hd), in float64 on the host). */
function ropeTables(Tmax: number, hd: number, theta = 10000): { cos: Input; sin: Input } {
  const half = hd / 2, cos = new Float32Array(Tmax * half), sin = new Float32Array(Tmax * half);
  for (let p = 0; p < Tmax; p++) {
    for (let i = 0; i < half; i++) {
      const angle = p * Math.pow(theta, (-2 * i) / hd);
      cos[p * half + i] = Math.cos(angle);
      sin[p * half + i] = Math.sin(angle);
    }
  }
  return { cos: [[Tmax, half], cos], sin: [[Tmax, half], sin] };
}

Deno.test({
  name: "webgpu rmsNorm forward (out, rstd) and backward (dx, dw accumulate)",
  ...gpuTest,
  fn: async () => {
    const gpu = await gpuBackend();
    for (const [N, C] of [[1, 1], [3, 17], [127, 3], [1000, 64], [5, 12]]) {
      const io = {
        out: f([N, C], 1),
        rstd: f([N], 3),
        x: f([N, C], 4, 3),
        w: f([C], 5),
        dx: f([N, C], 7),
        dw: f([C], 8),
        dout: f([N, C], 10),
      };
      await parity(
        `rmsNorm ${N}x${C}`,
        gpu,
        io,
        ["out", "rstd"],
        (be, t) => be.rmsNorm({ out: t.out, rstd: t.rstd, x: t.x, w: t.w, eps: 1e-6 }),
        { atol: 1e-5, rtol: 1e-4 },
      );
      await parity(`rmsNormBackward ${N}x${C}`, gpu, io, ["dx", "dw"], (be, t) => {
        be.rmsNorm({ out: t.out, rstd: t.rstd, x: t.x, w: t.w, eps: 1e-5 });
        be.rmsNormBackward({ dx: t.dx, dw: t.dw, dout: t.dout, x: t.x, w: t.w, rstd: t.rstd });
      }, { atol: 1e-4, rtol: 1e-4 });
    }
  },
});

Deno.test({
  name: "webgpu swiglu forward and backward (dgate, dup accumulate), vec4 body and scalar tail",
  ...gpuTest,
  fn: async () => {
    const gpu = await gpuBackend();
    for (const n of [1, 3, 17, 1000, 10_007]) {
      const io = {
        out: f([n], 1),
        gate: f([n], 2, 6),
        up: f([n], 3, 2),
        dgate: f([n], 4),
        dup: f([n], 5),
        dout: f([n], 6),
      };
      await parity(
        `swiglu ${n}`,
        gpu,
        io,
        ["out"],
        (be, t) => be.swiglu(t.out, t.gate, t.up),
        1e-6,
      );
      await parity(
        `swigluBackward ${n}`,
        gpu,
        io,
        ["dgate", "dup"],
        (be, t) =>
          be.swigluBackward({ dgate: t.dgate, dup: t.dup, dout: t.dout, gate: t.gate, up: t.up }),
        1e-6,
      );
    }
  },
});

Deno.test({
  name: "webgpu rope forward (posOffset, in place) and backward on fused q|k|v rows",
  ...gpuTest,
  fn: async () => {
    const gpu = await gpuBackend();
    // [B, T, headDim, NH, NKV, posOffset]: half a head of 1, 3 (scalar kernel) and 4, 8 (vec4).
    const shapes = [[1, 1, 2, 1, 1, 0], [2, 5, 6, 3, 1, 3], [2, 7, 16, 4, 2, 0], [
      3,
      9,
      8,
      2,
      2,
      5,
    ]];
    for (const [B, T, hd, NH, NKV, posOffset] of shapes) {
      const W = (NH + 2 * NKV) * hd, rotatedHeads = NH + NKV, Tmax = T + posOffset + 1;
      const io = {
        ...ropeTables(Tmax, hd),
        x: f([B, T, W], 1),
        out: f([B, T, W], 2),
        dx: f([B, T, W], 3),
        dout: f([B, T, W], 4),
      };
      const shape = { B, T, headDim: hd, rotatedHeads };
      const what = `B${B} T${T} hd${hd} NH${NH} NKV${NKV} pos${posOffset}`;
      await parity(`rope ${what}`, gpu, io, ["out"], (be, t) => {
        be.rope({ out: t.out, x: t.x, cos: t.cos, sin: t.sin, ...shape, posOffset });
      }, 1e-6);
      await parity(`rope in place ${what}`, gpu, io, ["x"], (be, t) => {
        be.rope({ out: t.x, x: t.x, cos: t.cos, sin: t.sin, ...shape, posOffset });
      }, 1e-6);
      await parity(`ropeBackward ${what}`, gpu, io, ["dx"], (be, t) => {
        be.ropeBackward({ dx: t.dx, dout: t.dout, cos: t.cos, sin: t.sin, ...shape });
      }, 1e-6);
    }
  },
});

Deno.test({
  name: "webgpu grouped-query attention: forward, backward, cached prompt, decoding (NKV 1…NH)",
  ...gpuTest,
  fn: async () => {
    const gpu = await gpuBackend();
    // [B, T, C, NH, NKV]: head sizes 3 and 5 (generic kernels), 4, 8, 16 (vec4 kernels and
    // chunked decoding over several chunks: T 40 with a partial last chunk).
    const shapes = [
      [2, 3, 6, 2, 1],
      [1, 7, 15, 3, 3],
      [2, 5, 12, 3, 1],
      [1, 9, 24, 6, 2],
      [2, 17, 32, 4, 2],
      [1, 40, 32, 2, 1],
      [2, 6, 64, 4, 4],
    ];
    for (const [B, T, C, NH, NKV] of shapes) {
      const dims = { B, T, C, NH, NKV }, KV = NKV * (C / NH), QW = C + 2 * KV;
      const io = {
        out: f([B, T, C], 1),
        lse: f([B, NH, T], 2),
        qkv: f([B, T, QW], 3, 2),
        dqkv: f([B, T, QW], 4),
        dout: f([B, T, C], 5),
      };
      const what = `B${B} T${T} C${C} NH${NH} NKV${NKV}`;
      await parity(
        `attention ${what}`,
        gpu,
        io,
        ["out", "lse"],
        (be, t) => be.attention({ out: t.out, lse: t.lse, qkv: t.qkv, dims }),
        { atol: 1e-5, rtol: 1e-4 },
      );
      await parity(`attentionBackward ${what}`, gpu, io, ["dqkv"], (be, t) => {
        be.attention({ out: t.out, lse: t.lse, qkv: t.qkv, dims });
        be.attentionBackward({
          dqkv: t.dqkv,
          dout: t.dout,
          out: t.out,
          lse: t.lse,
          qkv: t.qkv,
          dims,
        });
      }, { atol: 1e-4, rtol: 1e-4 });
      // Generation into caches [B, Tmax, NKV·hd]: the prompt at once, then two single tokens
      // (pos T and T + 1: decoding reads what the first one appended).
      const Tmax = T + 3;
      const cio = {
        ...io,
        k: f([B, Tmax, KV], 6),
        v: f([B, Tmax, KV], 7),
        q1: f([B, 1, QW], 8, 2),
        q2: f([B, 1, QW], 9, 2),
        o1: f([B, 1, C], 10),
        o2: f([B, 1, C], 11),
      };
      const one = { ...dims, T: 1 };
      await parity(`attentionCached ${what}`, gpu, cio, ["out", "k", "v", "o1", "o2"], (be, t) => {
        be.attentionCached({ out: t.out, qkv: t.qkv, kCache: t.k, vCache: t.v, pos: 0, dims });
        be.attentionCached({ out: t.o1, qkv: t.q1, kCache: t.k, vCache: t.v, pos: T, dims: one });
        be.attentionCached({
          out: t.o2,
          qkv: t.q2,
          kCache: t.k,
          vCache: t.v,
          pos: T + 1,
          dims: one,
        });
      }, { atol: 1e-5, rtol: 1e-4 });
    }
  },
});
