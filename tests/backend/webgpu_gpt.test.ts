// WebGPU GPT ops vs the CPU backend: embedding (+ backward), layerNorm (+ backward), causal
// attention (forward, backward, cached), softmax cross-entropy, argmax, top-k, AdamW.
// Tolerances are stated per call: 1e-5 for O(C) sums, 1e-4 for attention and LayerNorm
// gradients (exp and long f32 dot products), exact for integer results.
import { randomInts, randomTensorData as rnd } from "./_helpers.ts";
import { gpuBackend, gpuTest, type Input, parity } from "./webgpu_parity.ts";

const f = (shape: number[], seed: number, scale = 1): Input => [
  shape,
  rnd(shape.reduce((a, b) => a * b, 1), seed, scale),
];

Deno.test({
  name: "webgpu embedding and its backward (repeated ids, posOffset, no wpe)",
  ...gpuTest,
  fn: async () => {
    const gpu = await gpuBackend();
    for (
      const [V, C, Tmax, B, T] of [[1, 1, 1, 1, 1], [11, 3, 8, 2, 3], [50, 17, 20, 3, 17], [
        300,
        64,
        64,
        4,
        64,
      ]]
    ) {
      const io = {
        out: f([B * T, C], 1),
        ids: [[B * T], randomInts(B * T, 2, Math.min(V, 7))] as Input,
        wte: f([V, C], 3),
        wpe: f([Tmax, C], 4),
        dwte: f([V, C], 5),
        dwpe: f([Tmax, C], 6),
        dout: f([B * T, C], 7),
      };
      const what = `V${V} C${C} B${B} T${T}`;
      await parity(
        `embedding ${what}`,
        gpu,
        io,
        ["out"],
        (be, t) =>
          be.embedding({ out: t.out, ids: t.ids, wte: t.wte, wpe: t.wpe, T, posOffset: Tmax - T }),
        1e-6,
      );
      await parity(
        `embedding no wpe ${what}`,
        gpu,
        io,
        ["out"],
        (be, t) => be.embedding({ out: t.out, ids: t.ids, wte: t.wte, wpe: null, T }),
        0,
      );
      await parity(
        `embeddingBackward ${what}`,
        gpu,
        io,
        ["dwte", "dwpe"],
        (be, t) =>
          be.embeddingBackward({ dwte: t.dwte, dwpe: t.dwpe, dout: t.dout, ids: t.ids, T }),
        1e-5,
      );
      await parity(
        `embeddingBackward no wpe ${what}`,
        gpu,
        io,
        ["dwte"],
        (be, t) => be.embeddingBackward({ dwte: t.dwte, dwpe: null, dout: t.dout, ids: t.ids, T }),
        1e-5,
      );
    }
  },
});

Deno.test({
  name: "webgpu layerNorm forward (mean, rstd) and backward (dx, dw, db accumulate)",
  ...gpuTest,
  fn: async () => {
    const gpu = await gpuBackend();
    for (const [N, C] of [[1, 1], [3, 17], [127, 3], [1000, 64]]) {
      const io = {
        out: f([N, C], 1),
        mean: f([N], 2),
        rstd: f([N], 3),
        x: f([N, C], 4, 3),
        w: f([C], 5),
        b: f([C], 6),
        dx: f([N, C], 7),
        dw: f([C], 8),
        db: f([C], 9),
        dout: f([N, C], 10),
      };
      await parity(
        `layerNorm ${N}x${C}`,
        gpu,
        io,
        ["out", "mean", "rstd"],
        (be, t) =>
          be.layerNorm({
            out: t.out,
            mean: t.mean,
            rstd: t.rstd,
            x: t.x,
            w: t.w,
            b: t.b,
            eps: 1e-5,
          }),
        { atol: 1e-5, rtol: 1e-4 },
      );
      await parity(`layerNormBackward ${N}x${C}`, gpu, io, ["dx", "dw", "db"], (be, t) => {
        be.layerNorm({ out: t.out, mean: t.mean, rstd: t.rstd, x: t.x, w: t.w, b: t.b });
        be.layerNormBackward({
          dx: t.dx,
          dw: t.dw,
          db: t.db,
          dout: t.dout,
          x: t.x,
          w: t.w,
          mean: t.mean,
          rstd: t.rstd,
        });
      }, { atol: 1e-4, rtol: 1e-4 });
    }
  },
});

Deno.test({
  name: "webgpu attention: forward (out, lse), backward (dqkv +=), cached generation",
  ...gpuTest,
  fn: async () => {
    const gpu = await gpuBackend();
    // The last two also take the chunked decoding path (T = 1, head sizes of 4k), over
    // several chunks with a partial last one.
    const shapes = [[1, 1, 4, 1], [2, 3, 6, 3], [1, 17, 12, 2], [2, 70, 32, 4], [1, 200, 64, 2]];
    for (const [B, T, C, NH] of shapes) {
      const dims = { B, T, C, NH };
      const io = {
        out: f([B, T, C], 1),
        lse: f([B, NH, T], 2),
        qkv: f([B, T, 3 * C], 3, 2),
        dqkv: f([B, T, 3 * C], 4),
        dout: f([B, T, C], 5),
      };
      const what = `B${B} T${T} C${C} NH${NH}`;
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
      // Generation: the prompt at once, then one token at a time, into a cache of Tmax T + 2.
      const Tmax = T + 2;
      const cio = {
        ...io,
        k: f([B, Tmax, C], 6),
        v: f([B, Tmax, C], 7),
        q1: f([B, 1, 3 * C], 8),
        o1: f([B, 1, C], 9),
      };
      await parity(`attentionCached ${what}`, gpu, cio, ["out", "k", "v", "o1"], (be, t) => {
        be.attentionCached({ out: t.out, qkv: t.qkv, kCache: t.k, vCache: t.v, pos: 0, dims });
        be.attentionCached({
          out: t.o1,
          qkv: t.q1,
          kCache: t.k,
          vCache: t.v,
          pos: T,
          dims: { B, T: 1, C, NH },
        });
      }, { atol: 1e-5, rtol: 1e-4 });
    }
  },
});

Deno.test({
  name: "webgpu softmaxCrossEntropy (ignored targets, gradScale), argmaxRows, topK",
  ...gpuTest,
  fn: async () => {
    const gpu = await gpuBackend();
    const perWorkgroup = await gpuBackend({ softmax: "workgroup" }); // the GPU layout
    for (const [N, V] of [[1, 1], [3, 17], [17, 127], [20, 1000], [2, 5000]]) {
      const targets = randomInts(N, 1, V, -2); // some negative: ignored
      const io = {
        losses: f([N], 2),
        dlogits: f([N, V], 3),
        logits: f([N, V], 4, 8),
        targets: [[N], targets] as Input,
        am: [[N], new Int32Array(N)] as Input,
      };
      const what = `${N}x${V}`;
      await parity(
        `softmaxCrossEntropy ${what}`,
        gpu,
        io,
        ["losses", "dlogits"],
        (be, t) =>
          be.softmaxCrossEntropy({
            losses: t.losses,
            dlogits: t.dlogits,
            logits: t.logits,
            targets: t.targets,
            gradScale: 0.25,
          }),
        { atol: 1e-5, rtol: 1e-4 },
      );
      await parity(
        `softmaxCrossEntropy per workgroup ${what}`,
        perWorkgroup,
        io,
        ["losses", "dlogits"],
        (be, t) =>
          be.softmaxCrossEntropy({
            losses: t.losses,
            dlogits: t.dlogits,
            logits: t.logits,
            targets: t.targets,
            gradScale: 0.25,
          }),
        { atol: 1e-5, rtol: 1e-4 },
      );
      await parity(
        `softmaxCrossEntropy no grad ${what}`,
        gpu,
        io,
        ["losses", "dlogits"],
        (be, t) =>
          be.softmaxCrossEntropy({
            losses: t.losses,
            dlogits: null,
            logits: t.logits,
            targets: t.targets,
          }),
        { atol: 1e-5, rtol: 1e-4 },
      );
      await parity(
        `argmaxRows ${what}`,
        gpu,
        io,
        ["am"],
        (be, t) => be.argmaxRows(t.am, t.logits),
        0,
      );
    }
    for (const [n, k] of [[1, 1], [17, 3], [1000, 40], [5000, 50]]) {
      const x = rnd(n, 5);
      x[n - 1] = x[0]; // a tie: lower index first
      const io = { x: [[n], x] as Input, vals: f([k], 6), idx: [[k], new Int32Array(k)] as Input };
      await parity(
        `topK ${n} k${k}`,
        gpu,
        io,
        ["vals", "idx"],
        (be, t) => be.topK(t.vals, t.idx, t.x, k),
        0,
      );
    }
  },
});

Deno.test({
  name: "webgpu adamw: decay mask, gradScale, on-device clip, values captured per dispatch",
  ...gpuTest,
  fn: async () => {
    const gpu = await gpuBackend();
    for (const n of [1, 3, 17, 1000, 10_007]) {
      const mask = new Float32Array(n).map((_, i) => (i % 3 === 0 ? 0 : 1));
      const io = {
        p: f([n], 1),
        g: f([n], 2),
        m: f([n], 3, 0.1),
        v: [[n], rnd(n, 4).map(Math.abs)] as Input,
        mask: [[n], mask] as Input,
        ns: [[1], new Float32Array([n / 3])] as Input,
        ns0: [[1], new Float32Array([0])] as Input,
      };
      const hp = {
        lr: 1e-2,
        beta1: 0.9,
        beta2: 0.95,
        eps: 1e-8,
        weightDecay: 0.1,
        step: 1,
        gradScale: 0.5,
      };
      // Two steps recorded back to back with different lr/step: each must use its own values.
      await parity(`adamw ${n}`, gpu, io, ["p", "m", "v"], (be, t) => {
        be.adamw({
          params: t.p,
          grads: t.g,
          m: t.m,
          v: t.v,
          decayMask: t.mask,
          hp,
          clip: { normSquared: t.ns, maxNorm: 1 },
        });
        be.adamw({
          params: t.p,
          grads: t.g,
          m: t.m,
          v: t.v,
          decayMask: null,
          hp: { ...hp, lr: 3e-3, step: 2 },
        });
        be.adamw({
          params: t.p,
          grads: t.g,
          m: t.m,
          v: t.v,
          decayMask: t.mask,
          hp: { ...hp, step: 3 },
          clip: {
            normSquared: t.ns0,
            maxNorm: 1,
          },
        });
      }, { atol: 1e-6, rtol: 1e-5 });
    }
  },
});
