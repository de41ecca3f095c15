// Fine-tuning: `train --model <checkpoint dir>` starts from the directory's weights (here a
// GPT checkpoint in Hugging Face's BF16 layout; tests/model/hf_llama.test.ts does a Llama).
import assert from "node:assert/strict";
import { join } from "node:path";
import { readSafetensors } from "../../src/io/safetensors.ts";
import { initWeights, loadCheckpoint, saveCheckpoint } from "../../src/model/mod.ts";
import { Tokenizer } from "../../src/tokenizer/mod.ts";
import { runCliInProcess as bentevi } from "../_cli.ts";
import { encodeFile, type RefWeights } from "../_hf_llama.ts";
import { makeFixture, TINY_GPT } from "./helpers.ts";

const fx = await makeFixture();

Deno.test("train --model <dir>: fine-tunes from the directory's weights, refuses misfits", async () => {
  const dir = join(fx.dir, "base");
  await saveCheckpoint(dir, {
    config: TINY_GPT,
    weights: initWeights(TINY_GPT, 21),
    tokenizer: await Tokenizer.fromFile(fx.tokenizer),
  });
  // as BF16, the way many downloaded checkpoints come
  const file = await readSafetensors(join(dir, "model.safetensors"));
  const t64: RefWeights = new Map(
    [...file.tensors].map(([k, t]) => [k, { shape: t.shape, data: Float64Array.from(t.data) }]),
  );
  await Deno.writeFile(join(dir, "model.safetensors"), encodeFile(t64, () => "BF16"));
  const args = (out: string, ...more: string[]) => [
    "train",
    "--model",
    dir,
    "--data",
    fx.text,
    "--tokenizer",
    fx.tokenizer,
    "--out",
    out,
    "--device",
    "cpu",
    "--steps",
    "2",
    "--batch-size",
    "2",
    "--context",
    "16",
    ...more,
  ];
  const t = await bentevi(...args(join(fx.dir, "ft"), "--lr", "1e-9", "--json"));
  assert.equal(t.code, 0, t.stderr);
  const before = await loadCheckpoint(dir);
  const after = await loadCheckpoint(join(fx.dir, "ft"));
  const seeded = initWeights(TINY_GPT, 1337);
  let moved = 0, fromSeed = 0;
  for (const [name, w] of before.weights) {
    const a = after.weights.get(name)!.data;
    for (let i = 0; i < a.length; i++) {
      moved = Math.max(moved, Math.abs(a[i] - w.data[i]));
      fromSeed = Math.max(fromSeed, Math.abs(a[i] - seeded.get(name)!.data[i]));
    }
  }
  assert.ok(moved < 1e-5, `moved ${moved}`);
  assert.ok(fromSeed > 1e-2, "a seeded start would differ");
  // a larger learning rate moves them (the run really trains)
  const t2 = await bentevi(...args(join(fx.dir, "ft2"), "--lr", "1e-2"));
  assert.equal(t2.code, 0, t2.stderr);
  const moved2 = (await loadCheckpoint(join(fx.dir, "ft2"))).weights.get("wte.weight")!.data;
  assert.ok(moved2.some((x, i) => Math.abs(x - before.weights.get("wte.weight")!.data[i]) > 1e-4));
  // --force over the directory it reads from is refused
  const over = await bentevi(...args(dir, "--force"));
  assert.notEqual(over.code, 0);
  assert.match(over.stderr, /--force deletes/);
  assert.ok((await Deno.stat(join(dir, "model.safetensors"))).isFile);
  // a tokenizer larger than the model's vocabulary
  const big = join(fx.dir, "big.json");
  const j = JSON.parse(await Deno.readTextFile(fx.tokenizer));
  for (let i = 0; i < 400; i++) j.model.vocab[`zz${i}`] = 300 + i;
  await Deno.writeTextFile(big, JSON.stringify(j));
  const misfit = await bentevi(
    ...args(join(fx.dir, "ft3")).map((a) => a === fx.tokenizer ? big : a),
  );
  assert.notEqual(misfit.code, 0);
  assert.match(
    misfit.stderr,
    /big\.json: the tokenizer has \d+ tokens but the model in .* only 300/,
  );
});
