// The native backend (C kernels + OpenBLAS through Deno.dlopen): selection, thread counts,
// OpenBLAS missing, matmul layouts against the TypeScript backend, determinism, exact resume
// and learning curves equal to the TypeScript backend's. Every op's forward and backward is
// also checked against the CPU backend by `parity()` (webgpu_parity.ts) in the WebGPU tests.
// Skips with a message where the native backend cannot load (no compiler or no OpenBLAS).
import assert from "node:assert/strict";
import { BenteviError } from "../../src/errors.ts";
import { CpuBackend } from "../../src/backend/cpu/mod.ts";
import {
  createNativeBackend,
  loadNativeCompute,
  machineCores,
  NativeBackend,
  parseThreads,
} from "../../src/backend/native/mod.ts";
import { createBackend } from "../../src/backend/select.ts";
import type { Backend, Tensor } from "../../src/backend/backend.ts";
import { assertClose, randomInts, randomTensorData as rnd } from "./_helpers.ts";
import { assertExactResume } from "../train/helpers.ts";
import { runCli } from "../_cli.ts";

const loaded = loadNativeCompute();
const why = typeof loaded === "string" ? loaded : "";
if (why) console.log(`native backend tests skipped: ${why}`);
const nativeTest = { ignore: !!why, sanitizeResources: false, sanitizeOps: false };

Deno.test({
  name: "native: --device native gives the native backend; auto takes it without a GPU",
  ...nativeTest,
  fn: async () => {
    const be = await createBackend("native", { threads: 1 });
    assert.ok(be instanceof NativeBackend);
    assert.equal(be.kind, "native");
    assert.match(be.description, /^native CPU \(C kernels, .*OpenBLAS.*1 thread\)$/);
    const lines: string[] = [];
    const auto = await createBackend("auto", { adapter: null, log: (l) => lines.push(l) });
    assert.equal(auto.kind, "native");
    assert.equal(lines.length, 1);
    assert.match(lines[0], /no WebGPU adapter found; using the native CPU backend/);
    // A software adapter (lavapipe) is passed over for the native backend, with a notice.
    const software = { info: { isFallbackAdapter: true, description: "llvmpipe" } };
    lines.length = 0;
    const soft = await createBackend("auto", {
      adapter: software as unknown as GPUAdapter,
      log: (l) => lines.push(l),
    });
    assert.equal(soft.kind, "native");
    assert.match(lines[0], /adapter \(llvmpipe\) runs on the CPU; using the native CPU backend/);
  },
});

Deno.test("native: thread counts outside 1…cores are one-line errors", () => {
  const cores = machineCores();
  assert.equal(parseThreads("1", "--threads"), 1);
  assert.equal(parseThreads(String(cores), "--threads"), cores);
  for (const bad of ["0", String(cores + 1), "-1", "1.5", "two", ""]) {
    assert.throws(
      () => parseThreads(bad, "--threads"),
      (e: Error) =>
        e instanceof BenteviError &&
        e.message === `--threads ${bad}: the thread count must be an integer from 1 to ${cores} ` +
            `(this machine's cores)`,
    );
  }
  assert.throws(() => createNativeBackend({ threads: 0 }), BenteviError);
});

Deno.test({
  name: "native: CLI --threads and BENTEVI_THREADS out of range, OpenBLAS missing",
  ...nativeTest,
  fn: async () => {
    const cores = machineCores();
    // The option is checked as it is parsed, before anything else.
    let r = await runCli(["train", "--threads", "0", "--model", "gpt-micro"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr.trim(), /^bentevi: --threads 0: the thread count must be an integer/);
    assert.equal(r.stderr.trim().split("\n").length, 1);
    const tmp = await Deno.makeTempDir({ prefix: "bentevi-native-" });
    try {
      // Bad BENTEVI_THREADS: --device native fails in one line.
      r = await runCli(["bench", "kernels", "native"], {
        env: { BENTEVI_THREADS: String(cores + 1) },
      });
      assert.equal(r.code, 1);
      assert.equal(
        r.stderr.trim(),
        `bentevi: BENTEVI_THREADS ${cores + 1}: the thread count must be an integer from 1 to ` +
          `${cores} (this machine's cores)`,
      );
      // OpenBLAS missing: --device native says why and how to fix it; auto falls back.
      const missing = { BENTEVI_BLAS: `${tmp}/libopenblas-missing.so` };
      r = await runCli(["bench", "kernels", "native"], { env: missing });
      assert.equal(r.code, 1);
      assert.match(r.stderr.trim(), /^bentevi: --device native: OpenBLAS could not be loaded \(/);
      assert.equal(r.stderr.trim().split("\n").length, 1);
      // A file that is not a library at all.
      await Deno.writeTextFile(`${tmp}/fake.so`, "not a library");
      r = await runCli(["bench", "kernels", "native"], { env: { BENTEVI_BLAS: `${tmp}/fake.so` } });
      assert.equal(r.code, 1);
      assert.match(r.stderr.trim(), /^bentevi: --device native: OpenBLAS could not be loaded/);
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

/** Runs `op` on the TypeScript and the native backend from the same inputs; compares outputs. */
async function sameAsCpu(
  what: string,
  native: Backend,
  inputs: Record<string, [number[], Float32Array | Int32Array]>,
  outputs: string[],
  op: (be: Backend, t: Record<string, Tensor>) => void,
  tol: number,
): Promise<void> {
  const cpu = new CpuBackend();
  const make = (be: Backend) =>
    Object.fromEntries(
      Object.entries(inputs).map(([k, [shape, data]]) => [k, be.fromArray(shape, data)]),
    );
  const tc = make(cpu), tn = make(native);
  op(cpu, tc);
  op(native, tn);
  for (const name of outputs) {
    assertClose(await native.read(tn[name]), await cpu.read(tc[name]), tol, `${what}: ${name}`);
  }
}

Deno.test({
  name: "native: matmul, every transpose × bias × accumulate, odd shapes, one-row (sgemv)",
  ...nativeTest,
  fn: async () => {
    const native = createNativeBackend();
    let seed = 1;
    for (const [M, K, N] of [[1, 1, 1], [1, 37, 130], [3, 17, 5], [130, 1, 7], [64, 128, 96]]) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          for (const bias of [false, true]) {
            for (const accumulate of [false, true]) {
              await sameAsCpu(
                `matmul M${M} K${K} N${N} tA${transA} tB${transB} bias${bias} acc${accumulate}`,
                native,
                {
                  a: [transA ? [K, M] : [M, K], rnd(M * K, seed++)],
                  b: [transB ? [N, K] : [K, N], rnd(K * N, seed++)],
                  bias: [[N], rnd(N, seed++)],
                  out: [[M, N], rnd(M * N, seed++)],
                },
                ["out"],
                (be, t) =>
                  be.matmul(t.out, t.a, t.b, {
                    transA,
                    transB,
                    bias: bias ? t.bias : undefined,
                    accumulate,
                  }),
                1e-5,
              );
            }
          }
        }
      }
    }
  },
});

Deno.test({
  name: "native: bad token ids and targets give the TypeScript backend's messages",
  ...nativeTest,
  fn: () => {
    const native = createNativeBackend();
    const wte = native.fromArray([5, 2], rnd(10, 1)), out = native.zeros([3, 2]);
    const ids = native.fromArray([3], new Int32Array([1, 5, 0]));
    assert.throws(
      () => native.embedding({ out, ids, wte, wpe: null, T: 3 }),
      /embedding: token id 5 at position 1 is outside the vocabulary \[0, 5\)/,
    );
    const logits = native.fromArray([2, 5], rnd(10, 2)), losses = native.zeros([2]);
    const targets = native.fromArray([2], new Int32Array([0, 7]));
    assert.throws(
      () => native.softmaxCrossEntropy({ losses, dlogits: null, logits, targets }),
      /softmaxCrossEntropy: target 7 at row 1 is outside the vocabulary \[0, 5\)/,
    );
  },
});

/** Losses of a few AdamW steps of a tiny GPT-shaped stack of ops at `threads`. */
async function opsTrace(be: Backend): Promise<Float32Array> {
  const B = 4, T = 32, C = 64, NH = 4, V = 97, dims = { B, T, C, NH };
  const N = B * T;
  const f = (shape: number[], seed: number, scale = 0.5) =>
    be.fromArray(shape, rnd(shape.reduce((a, b) => a * b, 1), seed, scale));
  const wte = f([V, C], 1), wpe = f([T, C], 2), wqkv = f([C, 3 * C], 3, 0.2);
  const lnw = f([C], 4), lnb = f([C], 5);
  const ids = be.fromArray([N], randomInts(N, 6, V)),
    targets = be.fromArray([N], randomInts(N, 7, V));
  const x = be.zeros([N, C]), ln = be.zeros([N, C]), mean = be.zeros([N]), rstd = be.zeros([N]);
  const qkv = be.zeros([N, 3 * C]), att = be.zeros([N, C]), lse = be.zeros([B, NH, T]);
  const g = be.zeros([N, C]), logits = be.zeros([N, V]), dlogits = be.zeros([N, V]);
  const losses = be.zeros([N]);
  const dx = be.zeros([N, C]), dln = be.zeros([N, C]), dqkv = be.zeros([N, 3 * C]);
  const datt = be.zeros([N, C]), dg = be.zeros([N, C]);
  const dwte = be.zeros([V, C]), dwpe = be.zeros([T, C]), dwqkv = be.zeros([C, 3 * C]);
  const dlnw = be.zeros([C]), dlnb = be.zeros([C]);
  const m = be.zeros([C, 3 * C]), v = be.zeros([C, 3 * C]);
  const trace: number[] = [];
  for (let step = 1; step <= 3; step++) {
    for (const t of [dx, dln, dqkv, datt, dg, dwte, dwpe, dwqkv, dlnw, dlnb]) be.fill(t, 0);
    be.embedding({ out: x, ids, wte, wpe, T });
    be.layerNorm({ out: ln, mean, rstd, x, w: lnw, b: lnb });
    be.matmul(qkv, ln, wqkv);
    be.attention({ out: att, lse, qkv, dims });
    be.gelu(g, att);
    be.matmul(logits, g, wte, { transB: true });
    be.softmaxCrossEntropy({ losses, dlogits, logits, targets, gradScale: 1 / N });
    trace.push(...await be.read(losses));
    be.matmul(dg, dlogits, wte);
    be.matmul(dwte, dlogits, g, { transA: true, accumulate: true });
    be.geluBackward(datt, att, dg);
    be.attentionBackward({ dqkv, dout: datt, out: att, lse, qkv, dims });
    be.matmul(dwqkv, ln, dqkv, { transA: true });
    be.matmul(dln, dqkv, wqkv, { transB: true });
    be.layerNormBackward({ dx, dw: dlnw, db: dlnb, dout: dln, x, w: lnw, mean, rstd });
    be.embeddingBackward({ dwte, dwpe, dout: dx, ids, T });
    const hp = {
      lr: 1e-2,
      beta1: 0.9,
      beta2: 0.95,
      eps: 1e-8,
      weightDecay: 0.1,
      step,
      gradScale: 1,
    };
    be.adamw({ params: wqkv, grads: dwqkv, m, v, decayMask: null, hp });
  }
  return new Float32Array(trace);
}

Deno.test({
  name: "native: repeatable for a fixed thread count; a GPT-shaped op chain matches TypeScript",
  ...nativeTest,
  fn: async () => {
    const reference = await opsTrace(new CpuBackend());
    for (const threads of new Set([1, Math.min(2, machineCores())])) {
      const a = await opsTrace(createNativeBackend({ threads }));
      const b = await opsTrace(createNativeBackend({ threads }));
      assert.deepEqual(a, b, `threads ${threads}: two runs differ`);
      assertClose(a, reference, { atol: 1e-5, rtol: 1e-4 }, `threads ${threads} vs TypeScript`);
    }
  },
});

Deno.test({
  name:
    "native: exact resume (GPT, RWKV, Llama) and learning curves equal the TypeScript backend's",
  ...nativeTest,
  fn: async () => {
    const native = createNativeBackend({ threads: Math.min(2, machineCores()) });
    const curves = await assertExactResume(native, "native");
    const reference = await assertExactResume(new CpuBackend(), "cpu");
    for (const arch of Object.keys(reference)) {
      assertClose(
        new Float32Array(curves[arch]),
        new Float32Array(reference[arch]),
        { atol: 1e-4, rtol: 1e-4 },
        `${arch}: native vs TypeScript losses`,
      );
    }
  },
});

// RWKV-7's WKV (C kernels, one job per batch row × head): the TypeScript reference's results
// forward (with and without a carried state) and backward, bit-identical at 1 and 2 threads.
Deno.test({
  name: "native: wkv7 forward and backward match TypeScript, identical at 1 and 2 threads",
  ...nativeTest,
  fn: async () => {
    // [B, T, C, H]: a single step, odd sizes, a 64-wide head over several heads.
    for (const [B, T, C, H] of [[1, 1, 2, 1], [2, 5, 8, 2], [1, 70, 6, 3], [3, 33, 128, 2]]) {
      const N = C / H, shape = [B, T, C], n = B * T * C;
      // Moderate values, as the model feeds it: a = −κ̂ and b = κ̂⊙a have |·| ≤ 1.
      const inputs: Record<string, [number[], Float32Array]> = {
        r: [shape, rnd(n, 1)],
        w: [shape, rnd(n, 2, 3)],
        k: [shape, rnd(n, 3, 0.5)],
        v: [shape, rnd(n, 4)],
        a: [shape, rnd(n, 5, 0.3)],
        b: [shape, rnd(n, 6, 0.3)],
        y: [shape, rnd(n, 7)],
        dy: [shape, rnd(n, 8)],
        state: [[B, H, N, N], rnd(B * H * N * N, 9)],
      };
      const grads = ["dr", "dw", "dk", "dv", "da", "db"];
      grads.forEach((g, i) => inputs[g] = [shape, rnd(n, 20 + i)]);
      const forward = (state: boolean) => (be: Backend, t: Record<string, Tensor>) =>
        be.wkv7({
          y: t.y,
          r: t.r,
          w: t.w,
          k: t.k,
          v: t.v,
          a: t.a,
          b: t.b,
          state: state ? t.state : null,
          B,
          T,
          H,
        });
      const backward = (be: Backend, t: Record<string, Tensor>) =>
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
        });
      const what = `wkv7 B${B} T${T} C${C} H${H}`;
      const runs: (Float32Array | Int32Array)[][] = [];
      for (const threads of [1, Math.min(2, machineCores())]) {
        const native = createNativeBackend({ threads });
        await sameAsCpu(what, native, inputs, ["y"], forward(false), 1e-5);
        await sameAsCpu(`${what} state`, native, inputs, ["y", "state"], forward(true), 1e-5);
        await sameAsCpu(`${what} backward`, native, inputs, grads, backward, 1e-5);
        // Everything the three calls write, for the thread comparison.
        const t = Object.fromEntries(
          Object.entries(inputs).map(([k, [s, d]]) => [k, native.fromArray(s, d)]),
        );
        forward(true)(native, t);
        backward(native, t);
        runs.push(await Promise.all(["y", "state", ...grads].map((k) => native.read(t[k]))));
        native.destroy();
      }
      assert.deepEqual(runs[1], runs[0], `${what}: 1 and 2 threads differ`);
    }
  },
});

Deno.test({
  name:
    "native: a prefill's cached attention gives the bits of feeding its queries one at a time (head sizes 64, 48, 32, 12; grouped heads; 1 and 2 threads)",
  ...nativeTest,
  fn: () => {
    // The prefill path packs keys and values and takes queries two by two (ffi: scores8,
    // weighted_rows2); decode takes one query over the cache as it is. Same sums, same order.
    const shapes = [
      { NH: 4, NKV: 4, hd: 64, pos: 0, T: 37 },
      { NH: 4, NKV: 2, hd: 64, pos: 5, T: 20 },
      { NH: 3, NKV: 3, hd: 48, pos: 0, T: 19 },
      { NH: 2, NKV: 1, hd: 32, pos: 3, T: 16 },
      { NH: 2, NKV: 2, hd: 12, pos: 0, T: 9 },
    ];
    for (const threads of [1, 2]) {
      const be = createNativeBackend({ threads });
      for (const [i, { NH, NKV, hd, pos, T }] of shapes.entries()) {
        const what = `shape ${i}, ${threads} threads`;
        const C = NH * hd, KV = NKV * hd, W = C + 2 * KV, Tmax = pos + T + 3;
        const rows = rnd((pos + T) * W, 100 + i, 2);
        const dims = (t: number) => ({ B: 1, T: t, C, NH, NKV });
        const run = (steps: number[]) => {
          const k = be.zeros([1, Tmax, KV]), v = be.zeros([1, Tmax, KV]);
          const outs: number[] = [];
          let at = 0;
          for (const n of steps) {
            const qkv = be.fromArray([1, n, W], rows.slice(at * W, (at + n) * W));
            const out = be.zeros([1, n, C]);
            be.attentionCached({ out, qkv, kCache: k, vCache: v, pos: at, dims: dims(n) });
            outs.push(...be.array(out));
            at += n;
          }
          return new Float32Array(outs.slice(pos * C));
        };
        const prefill = run(pos > 0 ? [pos, T] : [T]);
        const oneByOne = run(Array.from({ length: pos + T }, () => 1));
        const bits = (a: Float32Array) => new Uint32Array(a.buffer);
        assert.deepEqual(bits(prefill), bits(oneByOne), what);
        // and the result is attention: the TypeScript backend's
        const cpu = new CpuBackend();
        const k = cpu.zeros([1, Tmax, KV]), v = cpu.zeros([1, Tmax, KV]);
        const all = cpu.fromArray([1, pos + T, W], rows), out = cpu.zeros([1, pos + T, C]);
        cpu.attentionCached({ out, qkv: all, kCache: k, vCache: v, pos: 0, dims: dims(pos + T) });
        const expected = Float32Array.from(cpu.array(out)).slice(pos * C);
        assertClose(prefill, expected, 1e-5, `${what} against TypeScript`);
      }
      be.destroy();
    }
  },
});
