/**
 * Decode speed with random weights: one greedy step of gpt-micro and rwkv-micro (after a
 * 32-token prompt), GPT with a 256-token prompt cached vs recomputed, and RWKV at position
 * 10 vs 1,000. On the CPU backend, and on WebGPU when an adapter exists.
 * `bentevi bench decode [--json]` prints the same figures as one table / JSON object.
 */
import { type Backend, createBackend } from "../src/backend/mod.ts";
import { initWeights, presetConfig } from "../src/model/mod.ts";
import { createLanguageModel, type LanguageModel } from "../src/generate/mod.ts";

const backends: Backend[] = [await createBackend("cpu")];
try {
  backends.push(await createBackend("webgpu", { log: () => {} }));
} catch {
  console.error("decode bench: no WebGPU adapter, CPU only");
}

function ids(n: number, vocab: number, seed: number): number[] {
  let s = seed;
  return Array.from({ length: n }, () => (s = (s * 1103515245 + 12345) % 2147483648) % vocab);
}

async function ready(
  backend: Backend,
  preset: string,
  vocab: number,
  ctx: number,
  promptLen: number,
) {
  const base = presetConfig(preset, vocab);
  const config = { ...base, contextLength: Math.max(base.contextLength, ctx) };
  const model = createLanguageModel(backend, config, initWeights(config, 1));
  await model.feed(ids(promptLen, vocab, 1));
  return model;
}

for (const backend of backends) {
  const dev = backend.kind;
  const micro = await ready(backend, "gpt-micro", 4096, 512, 32);
  const rwkv = await ready(backend, "rwkv-micro", 4096, 128, 32);
  const gptLong = await ready(backend, "gpt-micro", 4096, 512, 256);
  const rwkvEarly = await ready(backend, "rwkv-micro", 4096, 128, 10);
  const rwkvLate = await ready(backend, "rwkv-micro", 4096, 128, 1000);

  let small: LanguageModel | undefined;
  try {
    small = await ready(backend, "gpt2-small", 50257, 1024, 8);
  } catch (e) {
    console.error(`decode bench: gpt2-small on ${dev} skipped: ${(e as Error).message}`);
  }
  /** One cached step at a fixed position (cut back, feed one token). */
  const stepAt = (model: LanguageModel) => {
    const n = model.tokens.length;
    return async () => {
      if (model.config.arch === "gpt") model.truncate(n);
      await model.feed([7]);
    };
  };

  Deno.bench(
    `gpt-micro decode step (${dev})`,
    { group: `decode-${dev}`, baseline: true },
    stepAt(micro),
  );
  // RWKV steps advance the position, so a fixed number of iterations keeps it near the label.
  const few = { n: 40, warmup: 4 };
  Deno.bench(`rwkv-micro decode step (${dev})`, { group: `decode-${dev}`, ...few }, async () => {
    await rwkv.feed([7]);
  });
  if (small) {
    Deno.bench(
      `gpt2-small (124M) decode step (${dev})`,
      { group: `decode-${dev}`, n: 4, warmup: 1 },
      stepAt(small),
    );
  }
  Deno.bench(`gpt-micro, 256-token prompt: KV-cached step (${dev})`, {
    group: `kv-${dev}`,
    baseline: true,
  }, stepAt(gptLong));
  Deno.bench(
    `gpt-micro, 256-token prompt: recompute (${dev})`,
    { group: `kv-${dev}` },
    async () => {
      const all = [...gptLong.tokens.slice(0, 256), 7];
      gptLong.reset();
      await gptLong.feed(all);
    },
  );
  Deno.bench(`rwkv-micro step at position 10 (${dev})`, {
    group: `rwkv-${dev}`,
    baseline: true,
    ...few,
  }, async () => {
    await rwkvEarly.feed([7]);
  });
  Deno.bench(
    `rwkv-micro step at position 1000 (${dev})`,
    { group: `rwkv-${dev}`, ...few },
    async () => {
      await rwkvLate.feed([7]);
    },
  );
}
