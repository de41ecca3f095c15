// RWKV-6 ("Finch"): no reference logits exist for it in ../shared/data, so a float64
// reference written from BlinkDL's equations (reference.ts) checks the rwkv5 family's version
// 6 on CPU and WebGPU; tiny random v6 rwkv.cpp files (FP32, FP16), laid out as rwkv.cpp's
// converter writes them, go through `convert rwkv-cpp` and `generate`; bad files are named.
import assert from "node:assert/strict";
import type { ModelConfig } from "../../src/model/config.ts";
import { loadCheckpoint, weightSpecs } from "../../src/model/mod.ts";
import { readRwkvCpp } from "../../src/model/rwkv/cpp.ts";
import { rwkv5CppToWeights } from "../../src/model/rwkv5/cpp.ts";
import { createLanguageModel } from "../../src/generate/inference.ts";
import { encodeGgmf, type GgmfTensor } from "../fuzz/formats/rwkv_cpp.ts";
import { runCli } from "../_cli.ts";
import { backends, exists } from "./helpers.ts";
import { maxAbsDiff, rwkv6Reference } from "./reference.ts";

type Weights = Map<string, { shape: number[]; data: Float32Array }>;

const CONFIG = {
  arch: "rwkv5",
  version: "6",
  vocabSize: 256,
  contextLength: 1024,
  dModel: 16,
  nLayer: 2,
  ffnDim: 32,
  headSize: 8,
  layerNormEps: 1e-5,
  groupNormEps: 64e-5,
  mixLowRank: 4,
  decayLowRank: 6,
} as const satisfies ModelConfig;

/** Random RWKV-6 weights of `CONFIG` with magnitudes that exercise every branch. */
function randomWeights(seed: number): Weights {
  let s = seed;
  const rnd = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648; // [0, 1)
  const w: Weights = new Map();
  for (const spec of weightSpecs(CONFIG)) {
    const n = spec.shape.reduce((a, b) => a * b, 1), name = spec.name;
    const at = (f: () => number) => Float32Array.from({ length: n }, f);
    let data: Float32Array;
    if (/time_maa_[xwkvrg]$/.test(name)) data = at(rnd); // mixes in [0, 1)
    else if (name.endsWith("att.time_decay")) data = at(() => -3 + 3 * rnd());
    else if (/ln.*\.weight$/.test(name)) data = at(() => 0.8 + 0.4 * rnd());
    else if (/time_maa_w[12]|time_decay_w[12]/.test(name)) data = at(() => 2 * rnd() - 1);
    else data = at(() => rnd() - 0.5);
    w.set(name, { shape: [...spec.shape], data });
  }
  return w;
}

/** `x` `[a, b]` (per leading block) as `[b, a]`. */
function swapLast2(x: Float32Array, a: number, b: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let o = 0; o < x.length; o += a * b) {
    for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) out[o + j * a + i] = x[o + i * b + j];
  }
  return out;
}

/**
 * The tensors of an rwkv.cpp v6 file as its converter writes them: `time_*` squeezed (FP32
 * always), `time_decay`/`time_faaaa` as `[H, N, 1]`, the low-rank factors transposed
 * (`time_maa_w1 [5·D, C]`, `time_maa_w2 [5, C, D]`, `time_decay_w1 [D', C]`,
 * `time_decay_w2 [C, D']`), other matrices FP16 when `type` is 1.
 */
function cppTensors(w: Weights, type: 0 | 1): GgmfTensor[] {
  const C = CONFIG.dModel, N = CONFIG.headSize, H = C / N;
  const D = CONFIG.mixLowRank, D2 = CONFIG.decayLowRank;
  return [...w].map(([name, t]) => {
    let shape = t.shape, data = t.data;
    if (name.endsWith("time_maa_w1")) [shape, data] = [[5 * D, C], swapLast2(data, C, 5 * D)];
    else if (name.endsWith("time_maa_w2")) [shape, data] = [[5, C, D], swapLast2(data, D, C)];
    else if (name.endsWith("time_decay_w1")) [shape, data] = [[D2, C], swapLast2(data, C, D2)];
    else if (name.endsWith("time_decay_w2")) [shape, data] = [[C, D2], swapLast2(data, D2, C)];
    else if (/time_(decay|faaaa)$/.test(name)) shape = [H, N, 1];
    else if (name.includes(".time_")) shape = [C];
    const half = type === 1 && shape.length > 1 && !name.includes(".time_");
    return { name, shape, data, type: half ? 1 : 0 };
  });
}

const ggmf = (tensors: GgmfTensor[], type: 0 | 1) =>
  encodeGgmf({ vocab: 256, nEmbed: CONFIG.dModel, nLayer: CONFIG.nLayer, type }, tensors).bytes;

const PROMPT = [...new TextEncoder().encode('"in RWKV-6')];

Deno.test("RWKV-6 inference (CPU and WebGPU) matches a float64 reference, fed token by token and in parallel", async () => {
  const weights = randomWeights(11);
  const expected = rwkv6Reference(weights, CONFIG, PROMPT);
  for (const backend of await backends()) {
    const model = createLanguageModel(backend, CONFIG, weights);
    const all = await model.forwardAll(PROMPT);
    const parallel = maxAbsDiff(all, expected.flatMap((row) => [...row]));
    assert.ok(parallel < 1e-4, `${backend.kind} forwardAll: max |Δ| ${parallel}`);
    model.reset();
    for (let t = 0; t < PROMPT.length; t++) {
      const logits = await model.feed([PROMPT[t]]);
      const d = maxAbsDiff(logits, expected[t]);
      assert.ok(d < 1e-4, `${backend.kind} token ${t}: max |Δ| ${d}`);
    }
    // Two tokens at once through the carried state.
    model.reset();
    await model.feed(PROMPT.slice(0, 5));
    const last = await model.feed(PROMPT.slice(5, 7));
    assert.ok(maxAbsDiff(last, expected[6]) < 1e-4, `${backend.kind}: chunked feed`);
    model.dispose();
    backend.destroy();
  }
});

Deno.test("convert rwkv-cpp: tiny random RWKV-6 files (FP32, FP16) convert and generate through the CLI", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rwkv6-" });
  try {
    const weights = randomWeights(5);
    for (const type of [0, 1] as const) {
      const file = `${dir}/tiny-v6-${type ? "FP16" : "FP32"}.bin`;
      await Deno.writeFile(file, ggmf(cppTensors(weights, type), type));
      const out = `${dir}/ckpt${type}`;
      const conv = await runCli(["convert", "rwkv-cpp", file, "--output", out], {
        permissions: ["--allow-read", "--allow-write", "--allow-env"],
      });
      assert.equal(conv.code, 0, conv.stderr);
      const ckpt = await loadCheckpoint(out);
      assert.equal(ckpt.config.arch, "rwkv5");
      assert.equal((ckpt.config as { version: string }).version, "6");
      assert.deepEqual(
        [ckpt.config.mixLowRank, ckpt.config.decayLowRank, ckpt.config.groupNormEps],
        [4, 6, 64e-5],
      );
      const json = JSON.parse(await Deno.readTextFile(`${out}/config.json`));
      assert.equal(json.model_type, "rwkv6");
      for (const [name, t] of weights) {
        const got = ckpt.weights.get(name)!;
        assert.deepEqual([...got.shape], t.shape, name);
        // FP32: the same numbers (the transposes undone); FP16: within half's precision.
        const tol = type ? 2e-3 * Math.max(...t.data.map(Math.abs)) : 0;
        assert.ok(maxAbsDiff(got.data, t.data) <= tol, name);
      }
      const expected = rwkv6Reference(ckpt.weights, ckpt.config as typeof CONFIG, PROMPT);
      const [cpu] = await backends();
      const model = createLanguageModel(cpu, ckpt.config, ckpt.weights);
      const d = maxAbsDiff(await model.forwardAll(PROMPT), expected.flatMap((r) => [...r]));
      assert.ok(d < 1e-4, `converted, max |Δ| ${d}`);
      model.dispose();
      const g = await runCli([
        "generate",
        "--checkpoint",
        out,
        "--device",
        "cpu",
        "--prompt",
        "in",
        "--max-tokens",
        "5",
        "--seed",
        "1",
        "--json",
        "--ignore-eos",
      ], { permissions: ["--allow-read", "--allow-write", "--allow-env", "--allow-ffi"] });
      assert.equal(g.code, 0, g.stderr);
      assert.equal(JSON.parse(g.stdout).tokens.length, 5);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("rwkv.cpp RWKV-6: a head size that does not fit, a bad low-rank factor and a missing tensor are named in one line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rwkv6-" });
  try {
    const good = cppTensors(randomWeights(3), 0);
    const edit = (name: string, f: (t: GgmfTensor) => GgmfTensor | null) =>
      good.flatMap((t) => {
        if (t.name !== name) return [t];
        const r = f(t);
        return r ? [r] : [];
      });
    const cases: [string, GgmfTensor[], RegExp][] = [
      [
        "head size",
        edit(
          "blocks.0.att.time_faaaa",
          (t) => ({ ...t, shape: [3, 5, 1], data: t.data.slice(0, 15) }),
        ),
        /^[^\n]*m.bin: blocks.0.att.time_faaaa has shape \[3,5,1\], which does not give heads of equal size over n_embd 16\n?$/,
      ],
      [
        "low rank",
        edit(
          "blocks.0.att.time_maa_w1",
          (t) => ({ ...t, shape: [18, 16], data: t.data.slice(0, 288) }),
        ),
        /^[^\n]*m.bin: blocks.0.att.time_maa_w1 has shape \[18,16\], not \[5·D, n_embd 16\] as rwkv.cpp writes it\n?$/,
      ],
      [
        "transposed",
        edit("blocks.1.att.time_decay_w2", (t) => ({ ...t, shape: [6, 16] })),
        /^[^\n]*m.bin: tensor blocks.1.att.time_decay_w2 has shape \[6,16\], the model needs \[16,6\]\n?$/,
      ],
      [
        "missing",
        edit("blocks.1.att.time_decay_w2", () => null),
        /^[^\n]*m.bin: tensor blocks.1.att.time_decay_w2 is missing \(not an RWKV-6 model\?\)\n?$/,
      ],
    ];
    for (const [what, tensors, message] of cases) {
      await Deno.writeFile(`${dir}/m.bin`, ggmf(tensors, 0));
      const r = await runCli(["convert", "rwkv-cpp", `${dir}/m.bin`, "--output", `${dir}/out`], {
        permissions: ["--allow-read", "--allow-write", "--allow-env"],
      });
      assert.notEqual(r.code, 0, what);
      assert.match(r.stderr, message, what);
      assert.equal(exists(`${dir}/out`), false, `${what}: no partial output`);
    }
    // The good file reads as version 6 through the library too.
    await Deno.writeFile(`${dir}/ok.bin`, ggmf(good, 0));
    const { config } = rwkv5CppToWeights(await readRwkvCpp(`${dir}/ok.bin`), "6", "ok.bin");
    assert.equal(config.headSize, 8);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
