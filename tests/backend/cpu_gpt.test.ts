import assert from "node:assert/strict";
import { CpuBackend } from "../../src/backend/cpu/mod.ts";
import type { AttentionDims } from "../../src/backend/backend.ts";
import { assertClose, dotLoss, randomInts, randomTensorData } from "./_helpers.ts";
import { checkGradients } from "./gradcheck.ts";

Deno.test("cpu embedding: token + position rows, posOffset, no wpe, bad ids", async () => {
  const cpu = new CpuBackend();
  const [V, C, Tmax, B, T] = [11, 3, 8, 2, 3];
  const wte = randomTensorData(V * C, 1), wpe = randomTensorData(Tmax * C, 2);
  const ids = randomInts(B * T, 3, V);
  const out = cpu.zeros([B, T, C]);
  const tIds = cpu.fromArray([B * T], ids), tWte = cpu.fromArray([V, C], wte);
  for (const posOffset of [0, 5]) {
    cpu.embedding({ out, ids: tIds, wte: tWte, wpe: cpu.fromArray([Tmax, C], wpe), T, posOffset });
    const expected = Array.from({ length: B * T * C }, (_, i) => {
      const n = Math.floor(i / C), c = i % C;
      return wte[ids[n] * C + c] + wpe[(posOffset + (n % T)) * C + c];
    });
    assertClose(await cpu.read(out), expected, 1e-7, `embedding posOffset ${posOffset}`);
  }
  cpu.embedding({ out, ids: tIds, wte: tWte, wpe: null, T });
  const rowsOnly = Array.from(
    { length: B * T * C },
    (_, i) => wte[ids[Math.floor(i / C)] * C + (i % C)],
  );
  assertClose(await cpu.read(out), rowsOnly, 0, "embedding without wpe");
  const bad = cpu.fromArray([B * T], new Int32Array([0, 1, 2, 3, 11, 0]));
  assert.throws(
    () => cpu.embedding({ out, ids: bad, wte: tWte, wpe: null, T }),
    /token id 11 at position 4/,
  );
  assert.throws(
    () =>
      cpu.embedding({
        out,
        ids: tIds,
        wte: tWte,
        wpe: cpu.fromArray([Tmax, C], wpe),
        T,
        posOffset: 6,
      }),
    /positions 6…8 exceed wpe \[8, 3\]/,
  );
});

Deno.test("cpu embeddingBackward: finite differences (repeated ids accumulate)", () => {
  for (const [V, C, B, T] of [[1, 1, 1, 1], [5, 3, 2, 7], [17, 4, 3, 5]]) {
    checkGradients(`embedding V${V} C${C} B${B} T${T}`, (cpu) => {
      const wte = cpu.fromArray([V, C], randomTensorData(V * C, 1));
      const wpe = cpu.fromArray([T, C], randomTensorData(T * C, 2));
      const ids = cpu.fromArray([B * T], randomInts(B * T, 3, V));
      const g = cpu.fromArray([B * T, C], randomTensorData(B * T * C, 4));
      const out = cpu.zeros([B * T, C]), dwte = cpu.zeros([V, C]), dwpe = cpu.zeros([T, C]);
      return {
        wrt: { wte: { x: wte, dx: dwte }, wpe: { x: wpe, dx: dwpe } },
        loss:
          () => (cpu.embedding({ out, ids, wte, wpe, T }), dotLoss(cpu.array(out), cpu.array(g))),
        backward: () => cpu.embeddingBackward({ dwte, dwpe, dout: g, ids, T }),
      };
    });
  }
});

Deno.test("cpu layerNorm: forward formula and saved statistics", async () => {
  const cpu = new CpuBackend();
  for (const [N, C] of [[1, 1], [3, 17], [17, 3], [5, 127]]) {
    const x = randomTensorData(N * C, N, 3), w = randomTensorData(C, 2), b = randomTensorData(C, 3);
    const out = cpu.zeros([N, C]), mean = cpu.zeros([N]), rstd = cpu.zeros([N]);
    cpu.layerNorm({
      out,
      mean,
      rstd,
      x: cpu.fromArray([N, C], x),
      w: cpu.fromArray([C], w),
      b: cpu.fromArray([C], b),
    });
    const expected: number[] = [], means: number[] = [], rstds: number[] = [];
    for (let n = 0; n < N; n++) {
      const row = Array.from(x.subarray(n * C, (n + 1) * C));
      const m = row.reduce((p, v) => p + v, 0) / C;
      const variance = row.reduce((p, v) => p + (v - m) ** 2, 0) / C;
      const s = 1 / Math.sqrt(variance + 1e-5);
      row.forEach((v, c) => expected.push((v - m) * s * w[c] + b[c]));
      means.push(m);
      rstds.push(s);
    }
    assertClose(await cpu.read(out), expected, 1e-5, `layerNorm N${N} C${C}`);
    assertClose(await cpu.read(mean), means, 1e-6, "layerNorm mean");
    assertClose(await cpu.read(rstd), rstds, 1e-5, "layerNorm rstd");
  }
});

Deno.test("cpu layerNormBackward: finite differences", () => {
  for (const [N, C] of [[1, 1], [1, 3], [3, 17], [17, 3]]) {
    checkGradients(`layerNorm N${N} C${C}`, (cpu) => {
      const x = cpu.fromArray([N, C], randomTensorData(N * C, 1, 2));
      const w = cpu.fromArray([C], randomTensorData(C, 2)),
        b = cpu.fromArray([C], randomTensorData(C, 3));
      const g = cpu.fromArray([N, C], randomTensorData(N * C, 4));
      const out = cpu.zeros([N, C]), mean = cpu.zeros([N]), rstd = cpu.zeros([N]);
      const dx = cpu.zeros([N, C]), dw = cpu.zeros([C]), db = cpu.zeros([C]);
      return {
        wrt: { x: { x, dx }, w: { x: w, dx: dw }, b: { x: b, dx: db } },
        loss:
          () => (cpu.layerNorm({ out, mean, rstd, x, w, b }),
            dotLoss(cpu.array(out), cpu.array(g))),
        backward: () => cpu.layerNormBackward({ dx, dw, db, dout: g, x, w, mean, rstd }),
      };
    }, { f32Tol: { atol: 1e-4, rtol: 1e-3 } });
  }
});

/** Explicit float64 attention: softmax(QKᵀ/√hs + causal mask)·V per batch and head. */
function referenceAttention(qkv: Float32Array, { B, T, C, NH }: AttentionDims) {
  const hs = C / NH, out = new Float64Array(B * T * C), lse = new Float64Array(B * NH * T);
  const at = (b: number, t: number, part: number, h: number, d: number) =>
    qkv[(b * T + t) * 3 * C + part * C + h * hs + d];
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      for (let t = 0; t < T; t++) {
        const scores = Array.from({ length: T }, (_, s) => {
          if (s > t) return -Infinity; // the causal mask
          let dot = 0;
          for (let d = 0; d < hs; d++) dot += at(b, t, 0, h, d) * at(b, s, 1, h, d);
          return dot / Math.sqrt(hs);
        });
        const max = Math.max(...scores);
        const exps = scores.map((s) => Math.exp(s - max));
        const sum = exps.reduce((p, v) => p + v, 0);
        lse[(b * NH + h) * T + t] = max + Math.log(sum);
        for (let d = 0; d < hs; d++) {
          let o = 0;
          for (let s = 0; s < T; s++) o += (exps[s] / sum) * at(b, s, 2, h, d);
          out[(b * T + t) * C + h * hs + d] = o;
        }
      }
    }
  }
  return { out, lse };
}

const ATTENTION_DIMS: AttentionDims[] = [
  { B: 1, T: 1, C: 1, NH: 1 },
  { B: 1, T: 3, C: 4, NH: 2 },
  { B: 2, T: 17, C: 6, NH: 3 },
  { B: 3, T: 5, C: 8, NH: 1 },
  { B: 1, T: 130, C: 6, NH: 2 }, // more than two blocks of 64 queries
];

Deno.test("cpu attention: forward vs explicit softmax(QKᵀ)V with the causal mask", async () => {
  const cpu = new CpuBackend();
  for (const dims of ATTENTION_DIMS) {
    const { B, T, C, NH } = dims;
    const qkv = randomTensorData(B * T * 3 * C, T + C, 2);
    const out = cpu.zeros([B, T, C]), lse = cpu.zeros([B, NH, T]);
    cpu.attention({ out, lse, qkv: cpu.fromArray([B, T, 3 * C], qkv), dims });
    const ref = referenceAttention(qkv, dims);
    assertClose(await cpu.read(out), ref.out, 1e-5, `attention out ${JSON.stringify(dims)}`);
    assertClose(await cpu.read(lse), ref.lse, 1e-5, `attention lse ${JSON.stringify(dims)}`);
  }
  assert.throws(
    () =>
      cpu.attention({
        out: cpu.zeros([1, 2, 4]),
        lse: cpu.zeros([2]),
        qkv: cpu.zeros([1, 2, 12]),
        dims: {
          B: 1,
          T: 2,
          C: 4,
          NH: 3,
        },
      }),
    /attention: invalid dims/,
  );
  assert.throws(
    () =>
      cpu.attention({
        out: cpu.zeros([1, 2, 4]),
        lse: cpu.zeros([2]),
        qkv: cpu.zeros([1, 2, 11]),
        dims: {
          B: 1,
          T: 2,
          C: 4,
          NH: 1,
        },
      }),
    /attention: qkv has shape \[1, 2, 11\]/,
  );
});

Deno.test("cpu attentionBackward: finite differences", () => {
  for (const dims of ATTENTION_DIMS) {
    const { B, T, C, NH } = dims;
    checkGradients(`attention ${JSON.stringify(dims)}`, (cpu) => {
      const qkv = cpu.fromArray([B, T, 3 * C], randomTensorData(B * T * 3 * C, 1, 1.5));
      const g = cpu.fromArray([B, T, C], randomTensorData(B * T * C, 2));
      const out = cpu.zeros([B, T, C]),
        lse = cpu.zeros([B, NH, T]),
        dqkv = cpu.zeros([B, T, 3 * C]);
      return {
        wrt: { qkv: { x: qkv, dx: dqkv } },
        loss: () => (cpu.attention({ out, lse, qkv, dims }), dotLoss(cpu.array(out), cpu.array(g))),
        backward: () => cpu.attentionBackward({ dqkv, dout: g, out, lse, qkv, dims }),
      };
    }, { maxChecks: 64 });
  }
});

Deno.test("cpu attentionCached: successive calls equal attention over the whole sequence", async () => {
  const cpu = new CpuBackend();
  const [B, T, C, NH, Tmax] = [2, 9, 6, 2, 12];
  const qkvData = randomTensorData(B * T * 3 * C, 7, 2);
  const full = cpu.zeros([B, T, C]);
  cpu.attention({
    out: full,
    lse: cpu.zeros([B, NH, T]),
    qkv: cpu.fromArray([B, T, 3 * C], qkvData),
    dims: {
      B,
      T,
      C,
      NH,
    },
  });
  const expected = await cpu.read(full);
  const kCache = cpu.zeros([B, Tmax, C]), vCache = cpu.zeros([B, Tmax, C]);
  // A prompt of 4 tokens, then 1, then 4 more.
  const got = new Float32Array(B * T * C);
  let pos = 0;
  for (const len of [4, 1, 4]) {
    const chunk = new Float32Array(B * len * 3 * C);
    for (let b = 0; b < B; b++) {
      chunk.set(
        qkvData.subarray((b * T + pos) * 3 * C, (b * T + pos + len) * 3 * C),
        b * len * 3 * C,
      );
    }
    const out = cpu.zeros([B, len, C]);
    cpu.attentionCached({
      out,
      qkv: cpu.fromArray([B, len, 3 * C], chunk),
      kCache,
      vCache,
      pos,
      dims: {
        B,
        T: len,
        C,
        NH,
      },
    });
    const o = await cpu.read(out);
    for (let b = 0; b < B; b++) {
      got.set(o.subarray(b * len * C, (b + 1) * len * C), (b * T + pos) * C);
    }
    pos += len;
  }
  assertClose(got, expected, 1e-6, "attentionCached vs attention");
  // The caches hold k and v of every position.
  const k = await cpu.read(kCache);
  assertClose(
    k.subarray((Tmax + 3) * C, (Tmax + 4) * C),
    qkvData.subarray((T + 3) * 3 * C + C, (T + 3) * 3 * C + 2 * C),
    0,
    "kCache b1 t3",
  );
  assert.throws(
    () =>
      cpu.attentionCached({
        out: cpu.zeros([B, 4, C]),
        qkv: cpu.zeros([B, 4, 3 * C]),
        kCache,
        vCache,
        pos: 9,
        dims: {
          B,
          T: 4,
          C,
          NH,
        },
      }),
    /positions 9…12 do not fit the cache \[2, 12, 6\]/,
  );
});

Deno.test("cpu softmaxCrossEntropy: losses, dlogits, ignored targets, finite differences", async () => {
  const cpu = new CpuBackend();
  const [N, V] = [4, 5];
  const logits = randomTensorData(N * V, 1, 4);
  logits[0] = 80; // large logits must not overflow
  const targets = new Int32Array([0, 3, -1, 4]);
  const losses = cpu.zeros([N]), dlogits = cpu.zeros([N, V]);
  cpu.softmaxCrossEntropy({
    losses,
    dlogits,
    logits: cpu.fromArray([N, V], logits),
    targets: cpu.fromArray([N], targets),
    gradScale: 0.5,
  });
  const expectedLoss: number[] = [], expectedGrad: number[] = [];
  for (let n = 0; n < N; n++) {
    const row = Array.from(logits.subarray(n * V, (n + 1) * V));
    const max = Math.max(...row);
    const lse = max + Math.log(row.reduce((p, v) => p + Math.exp(v - max), 0));
    expectedLoss.push(targets[n] < 0 ? 0 : lse - row[targets[n]]);
    row.forEach((v, i) =>
      expectedGrad.push(targets[n] < 0 ? 0 : 0.5 * (Math.exp(v - lse) - (i === targets[n] ? 1 : 0)))
    );
  }
  assertClose(await cpu.read(losses), expectedLoss, 1e-5, "cross-entropy losses");
  assertClose(await cpu.read(dlogits), expectedGrad, 1e-6, "cross-entropy dlogits");
  assert.throws(
    () =>
      cpu.softmaxCrossEntropy({
        losses,
        dlogits: null,
        logits: cpu.fromArray([N, V], logits),
        targets: cpu.fromArray([N], new Int32Array([0, 5, 0, 0])),
      }),
    /target 5 at row 1 is outside the vocabulary \[0, 5\)/,
  );
  for (const [N, V] of [[1, 1], [3, 17], [7, 1000]]) {
    checkGradients(`softmaxCrossEntropy N${N} V${V}`, (cpu) => {
      const x = cpu.fromArray([N, V], randomTensorData(N * V, 2, 3));
      const t = cpu.fromArray([N], randomInts(N, 3, V, N > 1 ? -1 : 0));
      const losses = cpu.zeros([N]), dx = cpu.zeros([N, V]), scratch = cpu.zeros([N, V]);
      return {
        wrt: { logits: { x, dx } },
        loss:
          () => (cpu.softmaxCrossEntropy({ losses, dlogits: null, logits: x, targets: t }),
            dotLoss(cpu.array(losses), new Float64Array(N).fill(1))),
        backward: () => {
          // dlogits overwrites; accumulate it into dx the way a trainer would.
          cpu.softmaxCrossEntropy({
            losses,
            dlogits: scratch,
            logits: x,
            targets: t,
            gradScale: 1,
          });
          cpu.addInto(dx, scratch);
        },
      };
    });
  }
});
