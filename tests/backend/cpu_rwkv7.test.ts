import assert from "node:assert/strict";
import { CpuBackend } from "../../src/backend/cpu/mod.ts";
import type { Tensor } from "../../src/backend/backend.ts";
import { assertClose, dotLoss, randomTensorData } from "./_helpers.ts";
import { checkGradients } from "./gradcheck.ts";

/** Random `[rows, C]` tensors named in `names`, seeded from `seed`. */
function randoms(cpu: CpuBackend, shape: number[], names: string[], seed: number, scale = 1) {
  const size = shape.reduce((a, b) => a * b, 1);
  const out: Record<string, Tensor> = {};
  names.forEach((n, i) => out[n] = cpu.fromArray(shape, randomTensorData(size, seed + i, scale)));
  return out;
}

Deno.test("cpu tanh: values and finite differences", async () => {
  const cpu = new CpuBackend();
  const x = cpu.fromArray([3], new Float32Array([-2, 0, 0.5]));
  const y = cpu.zeros([3]);
  cpu.tanh(y, x);
  assertClose(await cpu.read(y), [Math.tanh(-2), 0, Math.tanh(0.5)], 1e-7, "tanh");
  checkGradients("tanh", (c) => {
    const x = c.fromArray([2, 7], randomTensorData(14, 1, 2));
    const y = c.zeros([2, 7]), dx = c.zeros([2, 7]);
    const g = c.fromArray([2, 7], randomTensorData(14, 2));
    return {
      wrt: { x: { x, dx } },
      loss: () => (c.tanh(y, x), dotLoss(c.array(y), c.array(g))),
      backward: () => c.tanhBackward(dx, y, g),
    };
  });
});

/** The WKV-7 recurrence written out with plain matrices, one token at a time. */
function naiveWkv7(
  x: Record<string, Float32Array>,
  T: number,
  C: number,
  H: number,
): Float64Array {
  const N = C / H, y = new Float64Array(T * C);
  for (let h = 0; h < H; h++) {
    let S = Array.from({ length: N }, () => new Array(N).fill(0));
    for (let t = 0; t < T; t++) {
      const at = (name: string, j: number) => x[name][t * C + h * N + j];
      const d = (j: number) => Math.exp(-Math.exp(-0.5) / (1 + Math.exp(-at("w", j))));
      const next = S.map((row, i) => {
        const sa = row.reduce((s, sij, j) => s + sij * at("a", j), 0);
        return row.map((sij, j) => sij * d(j) + sa * at("b", j) + at("v", i) * at("k", j));
      });
      S = next;
      for (let i = 0; i < N; i++) {
        y[t * C + h * N + i] = S[i].reduce((s, sij, j) => s + sij * at("r", j), 0);
      }
    }
  }
  return y;
}

Deno.test("cpu wkv7: matches the plain recurrence; a state carries across calls", async () => {
  const cpu = new CpuBackend();
  const [T, C, H] = [5, 6, 2];
  const names = ["r", "w", "k", "v", "a", "b"];
  const raw: Record<string, Float32Array> = {};
  names.forEach((n, i) => raw[n] = randomTensorData(T * C, 10 + i));
  const t = (n: string, from = 0, to = T) =>
    cpu.fromArray([1, to - from, C], raw[n].slice(from * C, to * C));
  const y = cpu.zeros([1, T, C]);
  cpu.wkv7({
    y,
    r: t("r"),
    w: t("w"),
    k: t("k"),
    v: t("v"),
    a: t("a"),
    b: t("b"),
    state: null,
    B: 1,
    T,
    H,
  });
  const expected = naiveWkv7(raw, T, C, H);
  assertClose(await cpu.read(y), expected, 1e-5, "wkv7 vs naive");
  // Two calls of 2 and 3 tokens through a state give the same outputs.
  const state = cpu.zeros([1, H, C / H, C / H]);
  const parts: number[] = [];
  for (const [from, to] of [[0, 2], [2, 5]]) {
    const yy = cpu.zeros([1, to - from, C]);
    const p = (n: string) => t(n, from, to);
    cpu.wkv7({
      y: yy,
      r: p("r"),
      w: p("w"),
      k: p("k"),
      v: p("v"),
      a: p("a"),
      b: p("b"),
      state,
      B: 1,
      T: to - from,
      H,
    });
    parts.push(...await cpu.read(yy));
  }
  assertClose(parts, expected, 1e-5, "wkv7 in two calls with a state");
  assert.throws(
    () =>
      cpu.wkv7({
        y,
        r: t("r"),
        w: t("w"),
        k: t("k"),
        v: t("v"),
        a: t("a"),
        b: t("b"),
        state: null,
        B: 1,
        T,
        H: 4,
      }),
    /wkv7: H 4 heads do not divide the 6 channels/,
  );
});

Deno.test("cpu wkv7Backward: finite differences", () => {
  for (const [B, T, C, H] of [[1, 1, 2, 1], [2, 4, 6, 2], [1, 7, 4, 1]]) {
    checkGradients(`wkv7 B${B} T${T} C${C} H${H}`, (cpu) => {
      const x = randoms(cpu, [B, T, C], ["r", "w", "k", "v", "a", "b", "g"], 1);
      const d = Object.fromEntries(
        ["r", "w", "k", "v", "a", "b"].map((n) => [n, cpu.zeros([B, T, C])]),
      );
      const y = cpu.zeros([B, T, C]);
      const { r, w, k, v, a, b, g } = x;
      return {
        wrt: Object.fromEntries(
          ["r", "w", "k", "v", "a", "b"].map((n) => [n, { x: x[n], dx: d[n] }]),
        ),
        loss:
          () => (cpu.wkv7({ y, r, w, k, v, a, b, state: null, B, T, H }),
            dotLoss(cpu.array(y), cpu.array(g))),
        backward: () =>
          cpu.wkv7Backward({
            dr: d.r,
            dw: d.w,
            dk: d.k,
            dv: d.v,
            da: d.a,
            db: d.b,
            dy: g,
            r,
            w,
            k,
            v,
            a,
            b,
            B,
            T,
            H,
          }),
      };
    });
  }
});

Deno.test("cpu rwkv7Keys: values and finite differences", async () => {
  const cpu = new CpuBackend();
  const k = cpu.fromArray([1, 4], new Float32Array([3, 4, 1, 0]));
  const a = cpu.fromArray([1, 4], new Float32Array([0.5, 0.5, 0.25, 1]));
  const kK = cpu.fromArray([4], new Float32Array([1, 1, 2, 2]));
  const kA = cpu.fromArray([4], new Float32Array([1, 0, 1, 1]));
  const [kt, na, nb] = [cpu.zeros([1, 4]), cpu.zeros([1, 4]), cpu.zeros([1, 4])];
  cpu.rwkv7Keys({ kt, na, nb, k, a, kK, kA, H: 2 });
  assertClose(await cpu.read(na), [-0.6, -0.8, -1, 0], 1e-7, "−κ̂ per head");
  assertClose(await cpu.read(nb), [0.3, 0.4, 0.25, 0], 1e-7, "κ̂⊙a");
  assertClose(await cpu.read(kt), [1.5, 4, 0.25, 0], 1e-7, "k⊙(1+(a−1)kA)");
  for (const [n, C, H] of [[1, 2, 1], [3, 6, 2], [2, 8, 4]]) {
    checkGradients(`rwkv7Keys n${n} C${C} H${H}`, (c) => {
      const x = randoms(c, [n, C], ["k", "a", "gkt", "gna", "gnb"], 5);
      const p = randoms(c, [C], ["kK", "kA"], 20);
      const d = Object.fromEntries(["k", "a"].map((m) => [m, c.zeros([n, C])]));
      const dkK = c.zeros([C]), dkA = c.zeros([C]);
      const outs = [c.zeros([n, C]), c.zeros([n, C]), c.zeros([n, C])];
      return {
        wrt: {
          k: { x: x.k, dx: d.k },
          a: { x: x.a, dx: d.a },
          kK: { x: p.kK, dx: dkK },
          kA: { x: p.kA, dx: dkA },
        },
        loss: () => {
          c.rwkv7Keys({
            kt: outs[0],
            na: outs[1],
            nb: outs[2],
            k: x.k,
            a: x.a,
            kK: p.kK,
            kA: p.kA,
            H,
          });
          return dotLoss(c.array(outs[0]), c.array(x.gkt)) +
            dotLoss(c.array(outs[1]), c.array(x.gna)) + dotLoss(c.array(outs[2]), c.array(x.gnb));
        },
        backward: () =>
          c.rwkv7KeysBackward({
            dk: d.k,
            da: d.a,
            dkK,
            dkA,
            dkt: x.gkt,
            dna: x.gna,
            dnb: x.gnb,
            k: x.k,
            a: x.a,
            kK: p.kK,
            kA: p.kA,
            H,
          }),
      };
    });
  }
});

Deno.test("cpu rwkv7Output: values and finite differences", async () => {
  const cpu = new CpuBackend();
  const one = (v: number[]) => cpu.fromArray([1, v.length], new Float32Array(v));
  const out = cpu.zeros([1, 2]);
  cpu.rwkv7Output({
    out,
    y: one([1, 3]),
    r: one([1, 2]),
    k: one([3, 1]),
    v: one([1, -1]),
    g: one([2, 1]),
    lnW: cpu.fromArray([2], new Float32Array([1, 1])),
    lnB: cpu.fromArray([2], new Float32Array([0, 0.5])),
    rK: cpu.fromArray([2], new Float32Array([1, 1])),
    H: 1,
    eps: 1e-12,
  });
  // GroupNorm([1, 3]) = [−1, 1]; bonus Σ r·k·rK = 5.
  assertClose(await cpu.read(out), [(-1 + 5) * 2, 1 + 0.5 - 5], 1e-6, "rwkv7Output");
  for (const [n, C, H] of [[1, 2, 1], [3, 6, 2], [2, 8, 4]]) {
    checkGradients(`rwkv7Output n${n} C${C} H${H}`, (c) => {
      const x = randoms(c, [n, C], ["y", "r", "k", "v", "g", "gout"], 30);
      const p = randoms(c, [C], ["lnW", "lnB", "rK"], 50);
      const rows = ["y", "r", "k", "v", "g"], vecs = ["lnW", "lnB", "rK"];
      const d: Record<string, Tensor> = {};
      for (const m of rows) d[m] = c.zeros([n, C]);
      for (const m of vecs) d[m] = c.zeros([C]);
      const out = c.zeros([n, C]);
      const eps = 64e-5;
      return {
        wrt: Object.fromEntries([
          ...rows.map((m) => [m, { x: x[m], dx: d[m] }]),
          ...vecs.map((m) => [m, { x: p[m], dx: d[m] }]),
        ]),
        loss: () => {
          c.rwkv7Output({
            out,
            y: x.y,
            r: x.r,
            k: x.k,
            v: x.v,
            g: x.g,
            lnW: p.lnW,
            lnB: p.lnB,
            rK: p.rK,
            H,
            eps,
          });
          return dotLoss(c.array(out), c.array(x.gout));
        },
        backward: () =>
          c.rwkv7OutputBackward({
            dy: d.y,
            dr: d.r,
            dk: d.k,
            dv: d.v,
            dg: d.g,
            dlnW: d.lnW,
            dlnB: d.lnB,
            drK: d.rK,
            dout: x.gout,
            y: x.y,
            r: x.r,
            k: x.k,
            v: x.v,
            g: x.g,
            lnW: p.lnW,
            lnB: p.lnB,
            rK: p.rK,
            H,
            eps,
          }),
      };
    });
  }
});

Deno.test("cpu wkv5: the RWKV-5 recurrence, one call or two through a state", async () => {
  const cpu = new CpuBackend();
  const [T, C, H] = [3, 4, 2], N = C / H;
  const raw = ["r", "k", "v"].map((_, i) => randomTensorData(T * C, 70 + i));
  const decay = Float32Array.from(randomTensorData(C, 80), (x) => 0.5 + 0.4 * x);
  const bonus = randomTensorData(C, 81);
  const expected: number[] = new Array(T * C).fill(0);
  for (let h = 0; h < H; h++) {
    const S = Array.from({ length: N }, () => new Array(N).fill(0));
    for (let t = 0; t < T; t++) {
      const at = (x: Float32Array, i: number) => x[t * C + h * N + i];
      for (let j = 0; j < N; j++) {
        for (let i = 0; i < N; i++) {
          expected[t * C + h * N + j] += at(raw[0], i) *
            (S[i][j] + bonus[h * N + i] * at(raw[1], i) * at(raw[2], j));
        }
      }
      for (let i = 0; i < N; i++) {
        for (let j = 0; j < N; j++) {
          S[i][j] = decay[h * N + i] * S[i][j] + at(raw[1], i) * at(raw[2], j);
        }
      }
    }
  }
  const state = cpu.zeros([1, H, N, N]);
  const got: number[] = [];
  for (const [from, to] of [[0, 1], [1, 3]]) {
    const p = (x: Float32Array) => cpu.fromArray([1, to - from, C], x.slice(from * C, to * C));
    const y = cpu.zeros([1, to - from, C]);
    cpu.wkv5({
      y,
      r: p(raw[0]),
      k: p(raw[1]),
      v: p(raw[2]),
      decay: cpu.fromArray([C], decay),
      bonus: cpu.fromArray([C], bonus),
      state,
      B: 1,
      T: to - from,
      H,
    });
    got.push(...await cpu.read(y));
  }
  assertClose(got, expected, 1e-5, "wkv5");
});

Deno.test("cpu wkv5 with w (RWKV-6): a decay per token and channel, through a state", async () => {
  const cpu = new CpuBackend();
  const [B, T, C, H] = [2, 3, 4, 2], N = C / H;
  const raw = ["r", "k", "v"].map((_, i) => randomTensorData(B * T * C, 90 + i));
  const w = Float32Array.from(randomTensorData(B * T * C, 95), (x) => 2 * x - 1.5);
  const bonus = randomTensorData(C, 96);
  const expected: number[] = new Array(B * T * C).fill(0);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const S = Array.from({ length: N }, () => new Array(N).fill(0));
      for (let t = 0; t < T; t++) {
        const o = (b * T + t) * C + h * N;
        for (let j = 0; j < N; j++) {
          for (let i = 0; i < N; i++) {
            expected[o + j] += raw[0][o + i] *
              (S[i][j] + bonus[h * N + i] * raw[1][o + i] * raw[2][o + j]);
          }
        }
        for (let i = 0; i < N; i++) {
          const d = Math.exp(-Math.exp(w[o + i]));
          for (let j = 0; j < N; j++) S[i][j] = d * S[i][j] + raw[1][o + i] * raw[2][o + j];
        }
      }
    }
  }
  // T split 1 + 2 through the state (per batch row: the tensors are [B, t, C] slices).
  const state = cpu.zeros([B, H, N, N]);
  const got = new Array(B * T * C).fill(0);
  for (const [from, to] of [[0, 1], [1, 3]]) {
    const n = to - from;
    const p = (x: Float32Array) => {
      const part = new Float32Array(B * n * C);
      for (let b = 0; b < B; b++) {
        part.set(x.slice((b * T + from) * C, (b * T + to) * C), b * n * C);
      }
      return cpu.fromArray([B, n, C], part);
    };
    const y = cpu.zeros([B, n, C]);
    cpu.wkv5({
      y,
      r: p(raw[0]),
      k: p(raw[1]),
      v: p(raw[2]),
      decay: null,
      w: p(w),
      bonus: cpu.fromArray([C], bonus),
      state,
      B,
      T: n,
      H,
    });
    const out = await cpu.read(y);
    for (let b = 0; b < B; b++) {
      for (let i = 0; i < n * C; i++) got[(b * T + from) * C + i] = out[b * n * C + i];
    }
  }
  assertClose(got, expected, 1e-5, "wkv5 per token");
  assert.throws(
    () =>
      cpu.wkv5({
        y: cpu.zeros([1, 1, C]),
        r: cpu.zeros([1, 1, C]),
        k: cpu.zeros([1, 1, C]),
        v: cpu.zeros([1, 1, C]),
        decay: null,
        bonus: cpu.zeros([C]),
        state: null,
        B: 1,
        T: 1,
        H,
      }),
    /wkv5: give exactly one of decay \(per channel\) and w \(per token\)/,
  );
});
