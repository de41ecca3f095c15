// WebGPU RWKV-4 ops vs the CPU backend: token shift (+ backward, with and without prev), the
// WKV recurrence (stateless and with state in/out, split in two calls) and its backward.
// Tolerances: 1e-6 token shift; 1e-4 relative WKV (exp of up to T terms in f32).
import { randomTensorData as rnd } from "./_helpers.ts";
import { gpuBackend, gpuTest, type Input, parity } from "./webgpu_parity.ts";

const f = (shape: number[], seed: number, scale = 1): Input => [
  shape,
  rnd(shape.reduce((a, b) => a * b, 1), seed, scale),
];
const SHAPES = [[1, 1, 1], [2, 3, 5], [1, 17, 3], [3, 40, 33], [2, 127, 8]];

Deno.test({
  name: "webgpu tokenShift forward and backward (prev state or zero)",
  ...gpuTest,
  fn: async () => {
    const gpu = await gpuBackend();
    for (const [B, T, C] of SHAPES) {
      const io = {
        out: f([B, T, C], 1),
        x: f([B, T, C], 2),
        mix: [[C], rnd(C, 3).map((v) => 0.5 + v / 2)] as Input,
        prev: f([B, C], 4),
        dx: f([B, T, C], 5),
        dmix: f([C], 6),
        dout: f([B, T, C], 7),
      };
      const what = `B${B} T${T} C${C}`;
      await parity(
        `tokenShift ${what}`,
        gpu,
        io,
        ["out"],
        (be, t) => be.tokenShift({ out: t.out, x: t.x, mix: t.mix, prev: null, B, T }),
        1e-6,
      );
      await parity(
        `tokenShift prev ${what}`,
        gpu,
        io,
        ["out"],
        (be, t) => be.tokenShift({ out: t.out, x: t.x, mix: t.mix, prev: t.prev, B, T }),
        1e-6,
      );
      await parity(
        `tokenShiftBackward ${what}`,
        gpu,
        io,
        ["dx", "dmix"],
        (be, t) =>
          be.tokenShiftBackward({
            dx: t.dx,
            dmix: t.dmix,
            dout: t.dout,
            x: t.x,
            mix: t.mix,
            prev: null,
            B,
            T,
          }),
        1e-5,
      );
      await parity(
        `tokenShiftBackward prev ${what}`,
        gpu,
        io,
        ["dx", "dmix"],
        (be, t) =>
          be.tokenShiftBackward({
            dx: t.dx,
            dmix: t.dmix,
            dout: t.dout,
            x: t.x,
            mix: t.mix,
            prev: t.prev,
            B,
            T,
          }),
        1e-5,
      );
      // BlinkDL's RWKV-5+ form x + (x[t−1] − x)·mix.
      await parity(
        `tokenShift lerp prev ${what}`,
        gpu,
        io,
        ["out"],
        (be, t) =>
          be.tokenShift({ out: t.out, x: t.x, mix: t.mix, prev: t.prev, B, T, lerp: true }),
        1e-6,
      );
      await parity(
        `tokenShiftBackward lerp prev ${what}`,
        gpu,
        io,
        ["dx", "dmix"],
        (be, t) =>
          be.tokenShiftBackward({
            dx: t.dx,
            dmix: t.dmix,
            dout: t.dout,
            x: t.x,
            mix: t.mix,
            prev: t.prev,
            B,
            T,
            lerp: true,
          }),
        1e-5,
      );
    }
  },
});

Deno.test({
  name: "webgpu wkv forward (with and without state) and backward",
  ...gpuTest,
  fn: async () => {
    const gpu = await gpuBackend();
    for (const [B, T, C] of SHAPES) {
      const io = {
        y: f([B, T, C], 1),
        k: f([B, T, C], 2, 3),
        v: f([B, T, C], 3),
        w: f([C], 4),
        u: f([C], 5),
        state: [[B, 3, C], new Float32Array(B * 3 * C)] as Input,
        y2: f([B, T, C], 6),
        dw: f([C], 7),
        du: f([C], 8),
        dk: f([B, T, C], 9),
        dv: f([B, T, C], 10),
        dy: f([B, T, C], 11),
      };
      // state starts at aa = bb = 0, pp = −1e38
      const st = io.state[1] as Float32Array;
      for (let b = 0; b < B; b++) st.fill(-1e38, b * 3 * C + 2 * C, b * 3 * C + 3 * C);
      const what = `B${B} T${T} C${C}`;
      const tol = { atol: 1e-5, rtol: 1e-4 };
      await parity(
        `wkv ${what}`,
        gpu,
        io,
        ["y"],
        (be, t) =>
          be.wkv({ y: t.y, k: t.k, v: t.v, timeDecay: t.w, timeFirst: t.u, state: null, B, T }),
        tol,
      );
      await parity(
        `wkv state ${what}`,
        gpu,
        io,
        ["y", "state"],
        (be, t) =>
          be.wkv({ y: t.y, k: t.k, v: t.v, timeDecay: t.w, timeFirst: t.u, state: t.state, B, T }),
        tol,
      );
      await parity(
        `wkvBackward ${what}`,
        gpu,
        io,
        ["dw", "du", "dk", "dv"],
        (be, t) =>
          be.wkvBackward({
            dw: t.dw,
            du: t.du,
            dk: t.dk,
            dv: t.dv,
            dy: t.dy,
            k: t.k,
            v: t.v,
            timeDecay: t.w,
            timeFirst: t.u,
            B,
            T,
          }),
        { atol: 1e-4, rtol: 1e-4 },
      );
    }
  },
});
