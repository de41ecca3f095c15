// Argument checks are shared (src/backend/checks.ts, run by the checked wrapper checked.ts): the
// CPU and WebGPU backends reject the same bad calls with the same one-line message, naming the op
// and the shapes.
import assert from "node:assert/strict";
import type { Backend } from "../../src/backend/backend.ts";
import { CpuBackend } from "../../src/backend/cpu/mod.ts";
import { gpuBackend, gpuTest } from "./webgpu_parity.ts";

/** One bad call per row: what it is, the call, and a pattern its message must match. */
const BAD_CALLS: [string, (be: Backend) => void, RegExp][] = [
  ["fromArray short data", (be) => be.fromArray([2, 2], new Float32Array(3)), /\[2, 2\] needs 4/],
  ["zeros bad shape", (be) => be.zeros([2, -1]), /^zeros: invalid shape \[2, -1\]/],
  ["view unaligned", (be) => be.view(be.zeros([256]), 10, [2]), /^view: offset 10/],
  ["view too big", (be) => be.view(be.zeros([256]), 192, [100]), /^view: \[100\].*\[256\]/],
  [
    "view of a freed base",
    (be) => {
      const base = be.zeros([128]);
      be.free(base);
      be.view(base, 64, [2]);
    },
    /^view: base was used after free\(\)$/,
  ],
  ["write too long", (be) => be.write(be.zeros([4]), new Float32Array(5)), /^write: 5 elements/],
  [
    "write wrong dtype",
    (be) => be.write(be.zeros([4]), new Int32Array(2)),
    /^write: Int32Array data into a f32 tensor/,
  ],
  ["copy size", (be) => be.copy(be.zeros([4]), be.zeros([5])), /^copy: dst \[4\] and src \[5\]/],
  ["copy dtype", (be) => be.copy(be.zeros([4]), be.zeros([4], "i32")), /^copy: dst is f32/],
  ["add", (be) => be.add(be.zeros([4]), be.zeros([4]), be.zeros([5])), /^add: a \[4\] and b \[5\]/],
  [
    "mulBackward",
    (be) =>
      be.mulBackward({
        da: be.zeros([3]),
        db: null,
        dout: be.zeros([4]),
        a: be.zeros([4]),
        b: be.zeros([4]),
      }),
    /^mulBackward: da \[3\] and a \[4\]/,
  ],
  [
    "geluBackward",
    (be) => be.geluBackward(be.zeros([4]), be.zeros([4]), be.zeros([2, 3])),
    /^geluBackward: dout \[2, 3\] and x \[4\]/,
  ],
  [
    "sigmoidBackward",
    (be) => be.sigmoidBackward(be.zeros([5]), be.zeros([4]), be.zeros([4])),
    /^sigmoidBackward: dx \[5\] and y \[4\]/,
  ],
  ["sum", (be) => be.sum(be.zeros([2]), be.zeros([4])), /^sum: out has shape \[2\]/],
  ["sumRows", (be) => be.sumRows(be.zeros([4]), be.zeros([2, 3])), /^sumRows: out .*x \[2, 3\]/],
  [
    "matmul inner",
    (be) => be.matmul(be.zeros([3, 6]), be.zeros([3, 4]), be.zeros([5, 6])),
    /^matmul: a \[3, 4\] and b \[5, 6\] do not match/,
  ],
  [
    "matmul bias",
    (be) =>
      be.matmul(be.zeros([3, 6]), be.zeros([3, 4]), be.zeros([4, 6]), { bias: be.zeros([5]) }),
    /^matmul: bias has shape \[5\].*out \[3, 6\]/,
  ],
  [
    "embedding posOffset",
    (be) =>
      be.embedding({
        out: be.zeros([4, 2]),
        ids: be.zeros([4], "i32"),
        wte: be.zeros([5, 2]),
        wpe: be.zeros([8, 2]),
        T: 4,
        posOffset: 0.5,
      }),
    /^embedding: positions 0.5…/,
  ],
  [
    "embedding f32 ids",
    (be) =>
      be.embedding({
        out: be.zeros([4, 2]),
        ids: be.zeros([4]),
        wte: be.zeros([5, 2]),
        wpe: null,
        T: 4,
      }),
    /^embedding: ids must be i32, got f32$/,
  ],
  [
    "embeddingBackward dwpe",
    (be) =>
      be.embeddingBackward({
        dwte: be.zeros([5, 2]),
        dwpe: be.zeros([2, 2]),
        dout: be.zeros([4, 2]),
        ids: be.zeros([4], "i32"),
        T: 4,
      }),
    /^embeddingBackward: dwpe \[2, 2\] does not fit T 4/,
  ],
  [
    "layerNorm",
    (be) =>
      be.layerNorm({
        out: be.zeros([2, 4]),
        mean: be.zeros([2]),
        rstd: be.zeros([3]),
        x: be.zeros([2, 4]),
        w: be.zeros([4]),
        b: be.zeros([4]),
      }),
    /^layerNorm: rstd has shape \[3\].*x \[2, 4\]/,
  ],
  [
    "layerNormBackward",
    (be) =>
      be.layerNormBackward({
        dx: be.zeros([2, 4]),
        dw: be.zeros([3]),
        db: be.zeros([4]),
        dout: be.zeros([2, 4]),
        x: be.zeros([2, 4]),
        w: be.zeros([4]),
        mean: be.zeros([2]),
        rstd: be.zeros([2]),
      }),
    /^layerNormBackward: dw has shape \[3\]/,
  ],
  [
    "attention dims",
    (be) =>
      be.attention({
        out: be.zeros([8]),
        lse: be.zeros([2]),
        qkv: be.zeros([24]),
        dims: { B: 1, T: 2, C: 4, NH: 3 },
      }),
    /^attention: invalid dims B 1, T 2, C 4, NH 3/,
  ],
  [
    "attentionBackward lse",
    (be) =>
      be.attentionBackward({
        dqkv: be.zeros([24]),
        dout: be.zeros([8]),
        out: be.zeros([8]),
        lse: be.zeros([3]),
        qkv: be.zeros([24]),
        dims: { B: 1, T: 2, C: 4, NH: 2 },
      }),
    /^attentionBackward: lse has shape \[3\].*\[B, NH, T\] = \[1, 2, 2\]/,
  ],
  [
    "attentionCached pos",
    (be) =>
      be.attentionCached({
        out: be.zeros([4]),
        qkv: be.zeros([12]),
        kCache: be.zeros([1, 4, 4]),
        vCache: be.zeros([1, 4, 4]),
        pos: 4,
        dims: {
          B: 1,
          T: 1,
          C: 4,
          NH: 2,
        },
      }),
    /^attentionCached: positions 4…4 do not fit the cache \[1, 4, 4\]/,
  ],
  [
    "attention NKV",
    (be) =>
      be.attention({
        out: be.zeros([1, 2, 4]),
        lse: be.zeros([4]),
        qkv: be.zeros([1, 2, 8]),
        dims: { B: 1, T: 2, C: 4, NH: 2, NKV: 3 },
      }),
    /^attention: invalid dims NKV 3 \(key\/value heads must divide NH 2\)/,
  ],
  [
    "attentionCached GQA cache",
    (be) =>
      be.attentionCached({
        out: be.zeros([4]),
        qkv: be.zeros([8]),
        kCache: be.zeros([1, 4, 4]),
        vCache: be.zeros([1, 4, 4]),
        pos: 0,
        dims: { B: 1, T: 1, C: 4, NH: 2, NKV: 1 },
      }),
    /^attentionCached: kCache \[1, 4, 4\] is not \[B, Tmax, NKV·hd\] with B 1, NKV·hd 2/,
  ],
  [
    "rmsNorm rstd",
    (be) =>
      be.rmsNorm({
        out: be.zeros([2, 3]),
        rstd: be.zeros([3]),
        x: be.zeros([2, 3]),
        w: be.zeros([3]),
        eps: 1e-6,
      }),
    /^rmsNorm: rstd has shape \[3\].*x \[2, 3\]/,
  ],
  [
    "rmsNormBackward dw",
    (be) =>
      be.rmsNormBackward({
        dx: be.zeros([2, 3]),
        dw: be.zeros([2]),
        dout: be.zeros([2, 3]),
        x: be.zeros([2, 3]),
        w: be.zeros([3]),
        rstd: be.zeros([2]),
      }),
    /^rmsNormBackward: dw has shape \[2\]/,
  ],
  [
    "rope odd head",
    (be) =>
      be.rope({
        out: be.zeros([1, 2, 6]),
        x: be.zeros([1, 2, 6]),
        cos: be.zeros([4, 1]),
        sin: be.zeros([4, 1]),
        B: 1,
        T: 2,
        headDim: 3,
        rotatedHeads: 1,
      }),
    /^rope: headDim 3 must be an even integer ≥ 2/,
  ],
  [
    "ropeBackward table",
    (be) =>
      be.ropeBackward({
        dx: be.zeros([1, 2, 8]),
        dout: be.zeros([1, 2, 8]),
        cos: be.zeros([4, 1]),
        sin: be.zeros([4, 1]),
        B: 1,
        T: 2,
        headDim: 4,
        rotatedHeads: 2,
      }),
    /^ropeBackward: cos \[4, 1\] is not \[Tmax, headDim\/2 = 2\]/,
  ],
  [
    "swigluBackward",
    (be) =>
      be.swigluBackward({
        dgate: be.zeros([4]),
        dup: be.zeros([5]),
        dout: be.zeros([4]),
        gate: be.zeros([4]),
        up: be.zeros([4]),
      }),
    /^swigluBackward: dup \[5\] and up \[4\]/,
  ],
  [
    "softmaxCrossEntropy",
    (be) =>
      be.softmaxCrossEntropy({
        losses: be.zeros([2]),
        dlogits: null,
        logits: be.zeros([2, 5]),
        targets: be.zeros([3], "i32"),
      }),
    /^softmaxCrossEntropy: targets has shape \[3\].*logits \[2, 5\]/,
  ],
  ["argmaxRows", (be) => be.argmaxRows(be.zeros([3], "i32"), be.zeros([2, 5])), /^argmaxRows: out/],
  [
    "topK",
    (be) => be.topK(be.zeros([2]), be.zeros([2], "i32"), be.zeros([1]), 2),
    /^topK: k 2 must be an integer in 1…1/,
  ],
  [
    "adamw step",
    (be) =>
      be.adamw({
        params: be.zeros([4]),
        grads: be.zeros([4]),
        m: be.zeros([4]),
        v: be.zeros([4]),
        decayMask: null,
        hp: {
          lr: 1e-3,
          beta1: 0.9,
          beta2: 0.95,
          eps: 1e-8,
          weightDecay: 0,
          step: 0,
          gradScale: 1,
        },
      }),
    /^adamw: step must be ≥ 1/,
  ],
  [
    "tokenShift",
    (be) =>
      be.tokenShift({
        out: be.zeros([12]),
        x: be.zeros([12]),
        mix: be.zeros([4]),
        prev: be.zeros([5]),
        B: 1,
        T: 3,
      }),
    /^tokenShift: prev has shape \[5\].*\[B, C\] = \[1, 4\]/,
  ],
  [
    "tokenShiftBackward",
    (be) =>
      be.tokenShiftBackward({
        dx: be.zeros([12]),
        dmix: be.zeros([4]),
        dout: be.zeros([12]),
        x: be.zeros([10]),
        mix: be.zeros([4]),
        prev: null,
        B: 1,
        T: 3,
      }),
    /^tokenShiftBackward: x \[10\] is not \[B, T, C\] with B 1, T 3/,
  ],
  [
    "wkv state",
    (be) =>
      be.wkv({
        y: be.zeros([12]),
        k: be.zeros([12]),
        v: be.zeros([12]),
        timeDecay: be.zeros([4]),
        timeFirst: be.zeros([4]),
        state: be.zeros([4]),
        B: 1,
        T: 3,
      }),
    /^wkv: state has shape \[4\].*\[B, 3, C\] = \[1, 3, 4\]/,
  ],
  [
    "wkvBackward du",
    (be) =>
      be.wkvBackward({
        dw: be.zeros([4]),
        du: be.zeros([3]),
        dk: be.zeros([12]),
        dv: be.zeros([12]),
        dy: be.zeros([12]),
        k: be.zeros([12]),
        v: be.zeros([12]),
        timeDecay: be.zeros([4]),
        timeFirst: be.zeros([4]),
        B: 1,
        T: 3,
      }),
    /^wkvBackward: du has shape \[3\].*k \[12\]/,
  ],
];

function messageOf(be: Backend, call: (be: Backend) => void): string {
  try {
    call(be);
  } catch (e) {
    return (e as Error).message;
  }
  return "(no error)";
}

Deno.test({
  name: "webgpu checks: both backends reject the same bad calls with the same message",
  ...gpuTest,
  fn: async () => {
    const cpu = new CpuBackend(), gpu = await gpuBackend();
    for (const [what, call, pattern] of BAD_CALLS) {
      const cpuMessage = messageOf(cpu, call), gpuMessage = messageOf(gpu, call);
      assert.match(cpuMessage, pattern, `${what} (cpu)`);
      assert.doesNotMatch(cpuMessage, /\n/, `${what}: one line`);
      assert.equal(gpuMessage, cpuMessage, `${what}: webgpu and cpu messages differ`);
    }
    gpu.flush();
  },
});
