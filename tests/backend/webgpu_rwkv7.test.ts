// WebGPU RWKV-7 ops vs the CPU backend: tanh, WKV-7 (stateless over several time chunks, with a
// state split in two calls) and its backward (one and several chunks, heads of 1 to 64), the
// key preparation and the output (+ backwards), and RWKV-5's recurrence (also with RWKV-6's decay per token).
import { randomTensorData as rnd } from "./_helpers.ts";
import { gpuBackend, gpuTest, type Input, parity } from "./webgpu_parity.ts";

const f = (shape: number[], seed: number, scale = 1): Input => [
  shape,
  rnd(shape.reduce((a, b) => a * b, 1), seed, scale),
];
const REL = { atol: 1e-4, rtol: 1e-4 };

Deno.test({
  name: "webgpu tanh forward and backward",
  ...gpuTest,
  fn: async () => {
    const gpu = await gpuBackend();
    for (const n of [1, 7, 130]) {
      const io = { x: f([n], 1, 20), y: f([n], 2), dx: f([n], 3), dout: f([n], 4) };
      await parity(`tanh ${n}`, gpu, io, ["y"], (be, t) => be.tanh(t.y, t.x), 1e-6);
      await parity(
        `tanhBackward ${n}`,
        gpu,
        io,
        ["dx"],
        (be, t) => be.tanhBackward(t.dx, t.y, t.dout),
        1e-6,
      );
    }
  },
});

// [B, T, C, H]: single steps, T over the 32-step chunk, a 64-wide head.
const WKV_SHAPES = [[1, 1, 2, 1], [2, 5, 8, 2], [1, 70, 6, 3], [2, 40, 64, 1], [1, 33, 128, 2]];

Deno.test({
  name: "webgpu wkv7 forward (with and without state) and backward",
  ...gpuTest,
  fn: async () => {
    const gpu = await gpuBackend();
    for (const [B, T, C, H] of WKV_SHAPES) {
      const N = C / H, shape = [B, T, C];
      // Moderate values, as the model feeds it: a = −κ̂ and b = κ̂⊙a have |·| ≤ 1.
      const io: Record<string, Input> = {
        r: f(shape, 1),
        w: f(shape, 2, 3),
        k: f(shape, 3, 0.5),
        v: f(shape, 4),
        a: f(shape, 5, 0.3),
        b: f(shape, 6, 0.3),
        y: f(shape, 7),
        dy: f(shape, 8),
        state: f([B, H, N, N], 9),
      };
      for (const g of ["dr", "dw", "dk", "dv", "da", "db"]) {
        io[g] = f(shape, 10 + g.length + g.charCodeAt(1));
      }
      const what = `B${B} T${T} C${C} H${H}`;
      await parity(
        `wkv7 ${what}`,
        gpu,
        io,
        ["y"],
        (be, t) =>
          be.wkv7({ y: t.y, r: t.r, w: t.w, k: t.k, v: t.v, a: t.a, b: t.b, state: null, B, T, H }),
        REL,
      );
      await parity(
        `wkv7 state ${what}`,
        gpu,
        io,
        ["y", "state"],
        (be, t) =>
          be.wkv7({
            y: t.y,
            r: t.r,
            w: t.w,
            k: t.k,
            v: t.v,
            a: t.a,
            b: t.b,
            state: t.state,
            B,
            T,
            H,
          }),
        REL,
      );
      await parity(
        `wkv7Backward ${what}`,
        gpu,
        io,
        ["dr", "dw", "dk", "dv", "da", "db"],
        (be, t) =>
          be.wkv7Backward({
            dr: t.dr,
            dw: t.dw,
            dk: t.dk,
            dv: t.dv,
            da: t.da,
            db: t.db,
            dy: t.dy,
            r: t.r,
            w: t.w,
            k: t.k,
            v: t.v,
            a: t.a,
            b: t.b,
            B,
            T,
            H,
          }),
        { atol: 3e-4, rtol: 3e-4 },
      );
    }
  },
});

Deno.test({
  name: "webgpu rwkv7Keys and rwkv7Output forward and backward; wkv5 (per channel and per token)",
  ...gpuTest,
  fn: async () => {
    const gpu = await gpuBackend();
    for (const [n, C, H] of [[1, 2, 1], [5, 12, 3], [33, 128, 2]]) {
      const rows = [n, C], vec = [C];
      const io: Record<string, Input> = {
        k: f(rows, 1),
        a: f(rows, 2),
        kK: f(vec, 3),
        kA: f(vec, 4),
        kt: f(rows, 5),
        na: f(rows, 6),
        nb: f(rows, 7),
        dk: f(rows, 8),
        da: f(rows, 9),
        dkK: f(vec, 10),
        dkA: f(vec, 11),
        dkt: f(rows, 12),
        dna: f(rows, 13),
        dnb: f(rows, 14),
        y: f(rows, 15, 3),
        r: f(rows, 16),
        v: f(rows, 17),
        g: f(rows, 18),
        lnW: f(vec, 19),
        lnB: f(vec, 20),
        rK: f(vec, 21),
        out: f(rows, 22),
        dout: f(rows, 23),
        dy: f(rows, 24),
        dr: f(rows, 25),
        dv: f(rows, 26),
        dg: f(rows, 27),
        dlnW: f(vec, 28),
        dlnB: f(vec, 29),
        drK: f(vec, 30),
      };
      const what = `n${n} C${C} H${H}`;
      await parity(
        `rwkv7Keys ${what}`,
        gpu,
        io,
        ["kt", "na", "nb"],
        (be, t) =>
          be.rwkv7Keys({ kt: t.kt, na: t.na, nb: t.nb, k: t.k, a: t.a, kK: t.kK, kA: t.kA, H }),
        1e-5,
      );
      await parity(
        `rwkv7KeysBackward ${what}`,
        gpu,
        io,
        ["dk", "da", "dkK", "dkA"],
        (be, t) =>
          be.rwkv7KeysBackward({
            dk: t.dk,
            da: t.da,
            dkK: t.dkK,
            dkA: t.dkA,
            dkt: t.dkt,
            dna: t.dna,
            dnb: t.dnb,
            k: t.k,
            a: t.a,
            kK: t.kK,
            kA: t.kA,
            H,
          }),
        REL,
      );
      const eps = 64e-5;
      await parity(`rwkv7Output ${what}`, gpu, io, ["out"], (be, t) =>
        be.rwkv7Output({
          out: t.out,
          y: t.y,
          r: t.r,
          k: t.k,
          v: t.v,
          g: t.g,
          lnW: t.lnW,
          lnB: t.lnB,
          rK: t.rK,
          H,
          eps,
        }), REL);
      const grads = ["dy", "dr", "dk", "dv", "dg", "dlnW", "dlnB", "drK"];
      await parity(
        `rwkv7OutputBackward ${what}`,
        gpu,
        io,
        grads,
        (be, t) =>
          be.rwkv7OutputBackward({
            dy: t.dy,
            dr: t.dr,
            dk: t.dk,
            dv: t.dv,
            dg: t.dg,
            dlnW: t.dlnW,
            dlnB: t.dlnB,
            drK: t.drK,
            dout: t.dout,
            y: t.y,
            r: t.r,
            k: t.k,
            v: t.v,
            g: t.g,
            lnW: t.lnW,
            lnB: t.lnB,
            rK: t.rK,
            H,
            eps,
          }),
        REL,
      );
    }
    for (const [B, T, C, H] of [[1, 1, 2, 1], [2, 9, 16, 2], [1, 4, 64, 1]]) {
      const N = C / H, shape = [B, T, C];
      // RWKV-6's form: a raw decay w per token and channel (decay exp(−exp(w))).
      await parity(
        `wkv5 per-token w B${B} T${T} C${C} H${H}`,
        gpu,
        {
          y: f(shape, 1),
          r: f(shape, 2),
          k: f(shape, 3),
          v: f(shape, 4),
          w: [shape, Float32Array.from(rnd(B * T * C, 8), (x) => 3 * x - 2)],
          bonus: f([C], 6),
          state: f([B, H, N, N], 7),
        },
        ["y", "state"],
        (be, t) =>
          be.wkv5({
            y: t.y,
            r: t.r,
            k: t.k,
            v: t.v,
            decay: null,
            w: t.w,
            bonus: t.bonus,
            state: t.state,
            B,
            T,
            H,
          }),
        REL,
      );
      const io: Record<string, Input> = {
        y: f(shape, 1),
        r: f(shape, 2),
        k: f(shape, 3),
        v: f(shape, 4),
        decay: [[C], Float32Array.from(rnd(C, 5), (x) => 0.5 + 0.45 * x)],
        bonus: f([C], 6),
        state: f([B, H, N, N], 7),
      };
      await parity(
        `wkv5 B${B} T${T} C${C} H${H}`,
        gpu,
        io,
        ["y", "state"],
        (be, t) =>
          be.wkv5({
            y: t.y,
            r: t.r,
            k: t.k,
            v: t.v,
            decay: t.decay,
            bonus: t.bonus,
            state: t.state,
            B,
            T,
            H,
          }),
        REL,
      );
    }
  },
});
