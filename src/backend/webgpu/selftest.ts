/**
 * A quick self-test of a few WebGPU kernels against the CPU backend (used by `bentevi gpu`):
 * matmul (transposed, with bias), LayerNorm, attention forward + backward, softmax
 * cross-entropy and AdamW on small random inputs.
 *
 * @module
 */
import type { Backend, Tensor } from "../backend.ts";
import { CpuBackend } from "../cpu/mod.ts";
import { Lcg32 } from "../../random.ts";

/** Result of one self-test case. */
export interface SelfTestCase {
  /** What was run. */
  name: string;
  /** Largest |gpu − cpu| over the outputs. */
  maxAbsError: number;
  /** Allowed error. */
  tolerance: number;
  /** `maxAbsError <= tolerance`. */
  ok: boolean;
}

function data(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  const rng = new Lcg32(seed);
  for (let i = 0; i < n; i++) out[i] = rng.next() - 0.5;
  return out;
}

interface Case {
  name: string;
  tolerance: number;
  inputs: Record<string, [number[], Float32Array | Int32Array]>;
  outputs: string[];
  run(be: Backend, t: Record<string, Tensor>): void;
}

const CASES: Case[] = [
  {
    name: "matmul 67×45 · (53×45)ᵀ + bias",
    tolerance: 1e-4,
    inputs: {
      a: [[67, 45], data(67 * 45, 1)],
      b: [[53, 45], data(53 * 45, 2)],
      bias: [[53], data(53, 3)],
      out: [[67, 53], data(67 * 53, 4)],
    },
    outputs: ["out"],
    run: (be, t) => be.matmul(t.out, t.a, t.b, { transB: true, bias: t.bias }),
  },
  {
    name: "layerNorm 33×64 forward + backward",
    tolerance: 1e-4,
    inputs: {
      x: [[33, 64], data(33 * 64, 5)],
      w: [[64], data(64, 6)],
      b: [[64], data(64, 7)],
      out: [[33, 64], new Float32Array(33 * 64)],
      mean: [[33], new Float32Array(33)],
      rstd: [[33], new Float32Array(33)],
      dx: [[33, 64], new Float32Array(33 * 64)],
      dw: [[64], new Float32Array(64)],
      db: [[64], new Float32Array(64)],
      dout: [[33, 64], data(33 * 64, 8)],
    },
    outputs: ["out", "dx", "dw", "db"],
    run: (be, t) => {
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
    },
  },
  {
    name: "attention B2 T19 C32 NH4 forward + backward",
    tolerance: 1e-4,
    inputs: {
      qkv: [[2, 19, 96], data(2 * 19 * 96, 9)],
      out: [[2, 19, 32], new Float32Array(2 * 19 * 32)],
      lse: [[2, 4, 19], new Float32Array(2 * 4 * 19)],
      dout: [[2, 19, 32], data(2 * 19 * 32, 10)],
      dqkv: [[2, 19, 96], new Float32Array(2 * 19 * 96)],
    },
    outputs: ["out", "lse", "dqkv"],
    run: (be, t) => {
      const dims = { B: 2, T: 19, C: 32, NH: 4 };
      be.attention({ out: t.out, lse: t.lse, qkv: t.qkv, dims });
      be.attentionBackward({
        dqkv: t.dqkv,
        dout: t.dout,
        out: t.out,
        lse: t.lse,
        qkv: t.qkv,
        dims,
      });
    },
  },
  {
    name: "softmaxCrossEntropy 9×500",
    tolerance: 1e-5,
    inputs: {
      logits: [[9, 500], data(9 * 500, 11).map((v) => v * 10)],
      targets: [[9], new Int32Array([0, 499, 7, -1, 250, 3, 3, 100, 42])],
      losses: [[9], new Float32Array(9)],
      dlogits: [[9, 500], new Float32Array(9 * 500)],
    },
    outputs: ["losses", "dlogits"],
    run: (be, t) =>
      be.softmaxCrossEntropy({
        losses: t.losses,
        dlogits: t.dlogits,
        logits: t.logits,
        targets: t.targets,
        gradScale: 0.5,
      }),
  },
  {
    name: "adamw 1001 parameters with clipping",
    tolerance: 1e-6,
    inputs: {
      p: [[1001], data(1001, 12)],
      g: [[1001], data(1001, 13)],
      m: [[1001], new Float32Array(1001)],
      v: [[1001], new Float32Array(1001)],
      ns: [[1], new Float32Array([100])],
    },
    outputs: ["p", "m", "v"],
    run: (be, t) =>
      be.adamw({
        params: t.p,
        grads: t.g,
        m: t.m,
        v: t.v,
        decayMask: null,
        hp: {
          lr: 1e-2,
          beta1: 0.9,
          beta2: 0.95,
          eps: 1e-8,
          weightDecay: 0.1,
          step: 3,
          gradScale: 1,
        },
        clip: { normSquared: t.ns, maxNorm: 1 },
      }),
  },
];

/**
 * Runs every self-test case on `gpu` and on the CPU backend and compares.
 *
 * @example
 * ```ts
 * import { createWebGpuBackend } from "./mod.ts";
 * import { selfTest } from "./selftest.ts";
 * const gpu = await createWebGpuBackend();
 * for (const c of await selfTest(gpu)) console.log(c.name, c.ok);
 * gpu.destroy();
 * ```
 */
export async function selfTest(gpu: Backend): Promise<SelfTestCase[]> {
  const cpu = new CpuBackend();
  const results: SelfTestCase[] = [];
  for (const c of CASES) {
    const make = (be: Backend) => {
      const t: Record<string, Tensor> = {};
      for (const [name, [shape, d]] of Object.entries(c.inputs)) t[name] = be.fromArray(shape, d);
      return t;
    };
    const tc = make(cpu), tg = make(gpu);
    c.run(cpu, tc);
    c.run(gpu, tg);
    let maxAbsError = 0;
    for (const name of c.outputs) {
      const [e, a] = [await cpu.read(tc[name]), await gpu.read(tg[name])];
      for (let i = 0; i < e.length; i++) {
        const err = Math.abs(a[i] - e[i]);
        maxAbsError = Number.isNaN(err) ? Infinity : Math.max(maxAbsError, err);
      }
    }
    for (const t of Object.values(tg)) gpu.free(t);
    results.push({
      name: c.name,
      maxAbsError,
      tolerance: c.tolerance,
      ok: maxAbsError <= c.tolerance,
    });
  }
  return results;
}
