/**
 * The `decode` benchmark: generation speed with random weights, on every available device.
 *
 * - Decode tokens/s for `gpt-micro`, `rwkv-micro`, `rwkv7-micro` and the 124M `gpt2-small` shape
 *   (a short prompt, then one token per step; greedy).
 * - GPT KV cache vs recompute: with a 256-token prompt, the time of one cached step against
 *   re-running the whole prompt plus the new token without a cache (same code, no cache).
 * - RWKV: the time of one step at position 1,000 against one at position 10.
 *
 * @module
 */
import { autoDeviceKind, type Backend, createBackend } from "../backend/mod.ts";
import { initWeights } from "../model/init.ts";
import { type ModelConfig, presetConfig } from "../model/config.ts";
import { createLanguageModel, type LanguageModel } from "./inference.ts";

/** Options of {@link runDecodeBench}. */
export interface DecodeBenchOptions {
  /** Devices to measure (default: WebGPU and the native backend where they exist, and the CPU). */
  devices?: ("webgpu" | "native" | "cpu")[];
  /** Skip the 124M model (it takes a while on the CPU). */
  skipLarge?: boolean;
  /** Progress lines. */
  log?: (line: string) => void;
}

/** One decode-speed figure. */
export interface DecodeFigure {
  /** Preset name. */
  model: string;
  /** Backend kind. */
  device: string;
  /** Tokens in the prompt. */
  promptTokens: number;
  /** New tokens timed. */
  newTokens: number;
  /** New tokens per second. */
  tokensPerSecond: number;
}

function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

/** Times `steps` greedy decode steps after `prompt`; returns seconds per step. */
async function timeSteps(
  model: LanguageModel,
  logits: Float32Array,
  steps: number,
): Promise<number> {
  const into = new Float32Array(logits.length); // one logits array, as generate() keeps
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) logits = await model.feed([argmax(logits)], into);
  return (performance.now() - t0) / 1000 / steps;
}

function prompt(n: number, vocab: number, seed = 1): number[] {
  let s = seed;
  return Array.from({ length: n }, () => (s = (s * 1103515245 + 12345) % 2147483648) % vocab);
}

const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Decode tokens/s of one preset on one backend. */
export async function measureDecode(
  backend: Backend,
  name: string,
  config: ModelConfig,
  promptTokens: number,
  newTokens: number,
): Promise<DecodeFigure> {
  const model = createLanguageModel(backend, config, initWeights(config, 1));
  try {
    const first = await model.feed(prompt(promptTokens, config.vocabSize));
    await timeSteps(model, first, 1); // warm-up (pipeline compilation on WebGPU)
    const perStep = await timeSteps(model, first, newTokens);
    return {
      model: name,
      device: backend.kind,
      promptTokens,
      newTokens,
      tokensPerSecond: 1 / perStep,
    };
  } finally {
    model.dispose();
  }
}

/**
 * Decode tokens/s of several models on one backend, measured alternately (`rounds` rounds of
 * A B C…, each figure the mean of its rounds) so that load from other jobs falls on all alike.
 *
 * @example
 * ```ts
 * import { measureDecodeAlternating } from "./bench.ts";
 * import { CpuBackend } from "../backend/cpu/mod.ts";
 * import { modelSpecConfig } from "../model/config.ts";
 * const models = ["gpt-micro:nLayer=1", "rwkv7-micro:nLayer=1"].map((name) => ({
 *   name,
 *   config: modelSpecConfig(name, 64),
 * }));
 * const rows = await measureDecodeAlternating(new CpuBackend(), models, 4, 2, 1);
 * console.log(rows.length); // 2
 * ```
 */
export async function measureDecodeAlternating(
  backend: Backend,
  models: readonly { name: string; config: ModelConfig }[],
  promptTokens = 32,
  newTokens = 32,
  rounds = 2,
): Promise<(DecodeFigure & { rounds: number[] })[]> {
  const runs = models.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    for (let m = 0; m < models.length; m++) {
      const { name, config } = models[m];
      runs[m].push(
        (await measureDecode(backend, name, config, promptTokens, newTokens)).tokensPerSecond,
      );
    }
  }
  return models.map(({ name }, m) => ({
    model: name,
    device: backend.kind,
    promptTokens,
    newTokens,
    tokensPerSecond: runs[m].reduce((a, b) => a + b, 0) / rounds,
    rounds: runs[m],
  }));
}

/** KV-cached step vs recompute with a `promptLen`-token prompt (GPT, gpt-micro widths). */
export async function measureKvSpeedup(
  backend: Backend,
  promptLen = 256,
  repeats = 7,
): Promise<{ cachedMs: number; recomputeMs: number; speedup: number }> {
  const base = presetConfig("gpt-micro", 4096);
  const config = { ...base, contextLength: Math.max(512, promptLen + 2 * repeats + 8) };
  const model = createLanguageModel(backend, config, initWeights(config, 2));
  try {
    const ids = prompt(promptLen, config.vocabSize, 3);
    const cached: number[] = [], recompute: number[] = [];
    let logits = await model.feed(ids);
    for (let r = 0; r < repeats; r++) {
      const next = argmax(logits);
      // Recompute: no cache, the whole sequence again (the same prefill code, from empty).
      const all = [...model.tokens, next];
      let t0 = performance.now();
      model.reset();
      await model.feed(all);
      recompute.push(performance.now() - t0);
      // Cached: rewind one token and feed it again as a single cached step.
      model.truncate(all.length - 1);
      t0 = performance.now();
      logits = await model.feed([next]);
      cached.push(performance.now() - t0);
    }
    const c = median(cached), f = median(recompute);
    return { cachedMs: c, recomputeMs: f, speedup: f / c };
  } finally {
    model.dispose();
  }
}

/**
 * RWKV time per token at position `late` vs position `early` (`preset`: rwkv-micro, or
 * rwkv7-micro): two models, one fed `early` tokens and one `late`, stepped alternately (so
 * machine noise hits both alike); medians of the single-step times.
 */
export async function measureRwkvPositions(
  backend: Backend,
  early = 10,
  late = 1000,
  steps = 21,
  preset = "rwkv-micro",
): Promise<{ earlyMs: number; lateMs: number; ratio: number }> {
  const config = presetConfig(preset, 4096);
  const weights = initWeights(config, 4);
  const a = createLanguageModel(backend, config, weights);
  const b = createLanguageModel(backend, config, weights);
  try {
    let la = await a.feed(prompt(early, config.vocabSize, 5));
    let lb = await b.feed(prompt(late, config.vocabSize, 6));
    for (let i = 0; i < 2; i++) { // warm-up
      la = await a.feed([argmax(la)]);
      lb = await b.feed([argmax(lb)]);
    }
    const ta: number[] = [], tb: number[] = [];
    for (let i = 0; i < steps; i++) {
      let t0 = performance.now();
      la = await a.feed([argmax(la)]);
      ta.push(performance.now() - t0);
      t0 = performance.now();
      lb = await b.feed([argmax(lb)]);
      tb.push(performance.now() - t0);
    }
    const earlyMs = median(ta), lateMs = median(tb);
    return { earlyMs, lateMs, ratio: lateMs / earlyMs };
  } finally {
    a.dispose();
    b.dispose();
  }
}

/**
 * Runs the whole suite. `json` has `gpt_kv_speedup` and `rwkv_late_over_early` (from the
 * device that generation uses by default, see {@link autoDeviceKind}), per-device details,
 * and decode tokens/s.
 */
export async function runDecodeBench(
  options: DecodeBenchOptions = {},
): Promise<{ json: Record<string, unknown>; text: string }> {
  const log = options.log ?? (() => {});
  const backends: Backend[] = [];
  for (const d of options.devices ?? ["webgpu", "native", "cpu"]) {
    try {
      backends.push(await createBackend(d, { log }));
    } catch (e) {
      log(`decode bench: ${d} unavailable (${(e as Error).message})`);
    }
  }
  const decode: DecodeFigure[] = [];
  const kv: Record<string, unknown>[] = [];
  const rwkv: Record<string, unknown>[] = [];
  const skipped: { model: string; device: string; reason: string }[] = [];
  for (const b of backends) {
    log(`decode bench on ${b.kind}: ${b.description}`);
    const k = await measureKvSpeedup(b);
    kv.push({
      device: b.kind,
      prompt_tokens: 256,
      cached_ms: k.cachedMs,
      recompute_ms: k.recomputeMs,
      speedup: k.speedup,
    });
    log(
      `  gpt KV cache: ${k.cachedMs.toFixed(1)} ms/token vs recompute ${
        k.recomputeMs.toFixed(1)
      } ms → ${k.speedup.toFixed(1)}×`,
    );
    for (const model of ["rwkv-micro", "rwkv7-micro"]) {
      const r = await measureRwkvPositions(b, 10, 1000, 21, model);
      rwkv.push({
        model,
        device: b.kind,
        early_position: 10,
        late_position: 1000,
        early_ms: r.earlyMs,
        late_ms: r.lateMs,
        ratio: r.ratio,
      });
      log(
        `  ${model} step at 1000 vs 10: ${r.lateMs.toFixed(2)} / ${r.earlyMs.toFixed(2)} ms → ${
          r.ratio.toFixed(2)
        }×`,
      );
    }
    for (
      const [name, vocab, promptLen, steps] of [
        ["gpt-micro", 4096, 32, 32],
        ["rwkv-micro", 4096, 32, 32],
        ["rwkv7-micro", 4096, 32, 32],
        ["gpt2-small", 50257, 8, b.kind === "cpu" ? 3 : 16],
      ] as const
    ) {
      if (name === "gpt2-small" && options.skipLarge) continue;
      try {
        const f = await measureDecode(b, name, presetConfig(name, vocab), promptLen, steps);
        decode.push(f);
        log(`  ${name}: ${f.tokensPerSecond.toFixed(1)} tokens/s`);
      } catch (e) {
        skipped.push({ model: name, device: b.kind, reason: (e as Error).message });
        log(`  ${name}: skipped (${(e as Error).message})`);
      }
    }
  }
  for (const b of backends) b.destroy();
  // The headline figures are those of the device generation uses by default (`auto`).
  const preferred = await autoDeviceKind("decode");
  const pick = <T extends Record<string, unknown>>(rows: T[]) =>
    rows.find((r) => r.device === preferred) ?? rows[0];
  const json = {
    gpt_kv_speedup: pick(kv)?.speedup ?? null,
    rwkv_late_over_early: pick(rwkv.filter((r) => r.model === "rwkv-micro"))?.ratio ?? null,
    rwkv7_late_over_early: pick(rwkv.filter((r) => r.model === "rwkv7-micro"))?.ratio ?? null,
    device: pick(kv)?.device ?? null,
    kv_cache: kv,
    rwkv_positions: rwkv,
    decode: decode.map((d) => ({
      model: d.model,
      device: d.device,
      prompt_tokens: d.promptTokens,
      new_tokens: d.newTokens,
      tokens_per_second: d.tokensPerSecond,
    })),
    skipped,
  };
  const lines = [
    "model        device   tokens/s",
    ...decode.map((d) =>
      `${d.model.padEnd(12)} ${d.device.padEnd(8)} ${d.tokensPerSecond.toFixed(2).padStart(8)}`
    ),
    ...kv.map((k) =>
      `GPT KV cache (256-token prompt) on ${k.device}: ${
        (k.speedup as number).toFixed(1)
      }× faster ` +
      `per token than recomputing (${(k.cached_ms as number).toFixed(1)} vs ${
        (k.recompute_ms as number).toFixed(1)
      } ms)`
    ),
    ...rwkv.map((r) =>
      `${r.model} time per token at position 1000 / 10 on ${r.device}: ${
        (r.ratio as number).toFixed(2)
      }×`
    ),
    ...skipped.map((s) => `skipped ${s.model} on ${s.device}: ${s.reason}`),
  ];
  return { json, text: lines.join("\n") };
}
