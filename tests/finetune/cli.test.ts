// `bentevi finetune`: a full fine-tuning run from a checkpoint (the base's validation loss
// first, then lower), exact resume, chat tokens added to a base without them, RWKV, and bad
// input as one line with nothing left behind.
import assert from "node:assert/strict";
import { join } from "node:path";
import { readSafetensors } from "../../src/io/safetensors.ts";
import { initWeights, loadCheckpoint, saveCheckpoint } from "../../src/model/mod.ts";
import { Tokenizer, trainTokenizer } from "../../src/tokenizer/mod.ts";
import { assertOneLineError, runCli, runCliInProcess as bentevi } from "../_cli.ts";
import { makeFixture, TINY_GPT, TINY_RWKV } from "../train/helpers.ts";

const fx = await makeFixture();
const tok = await Tokenizer.fromFile(fx.tokenizer);
const GPT = { ...TINY_GPT, contextLength: 64 };

async function base(name: string, config: typeof GPT | typeof TINY_RWKV, tokenizer = tok) {
  const dir = join(fx.dir, name);
  await saveCheckpoint(dir, { config, weights: initWeights(config, 3), tokenizer });
  return dir;
}

/** Copies run directory `from` to `to`, leaving out checkpoint `without`. */
async function copyRun(from: string, to: string, without: string) {
  await Deno.mkdir(to);
  for await (const e of Deno.readDir(from)) {
    if (e.name === without) continue;
    if (e.isDirectory) {
      await Deno.mkdir(join(to, e.name));
      for await (const f of Deno.readDir(join(from, e.name))) {
        await Deno.copyFile(join(from, e.name, f.name), join(to, e.name, f.name));
      }
    } else await Deno.copyFile(join(from, e.name), join(to, e.name));
  }
}

/** Number of float32 values in a safetensors file. */
async function loadOptimizerSize(path: string): Promise<number> {
  const f = await readSafetensors(path);
  return [...f.tensors.values()].reduce((n, t) => n + t.data.length, 0);
}

const data = join(fx.dir, "chat.jsonl");
const lines: string[] = [];
for (let i = 0; i < 40; i++) {
  lines.push(JSON.stringify({
    messages: [
      { role: "system", content: "Seja breve." },
      { role: "user", content: `O que canta no galho ${i}?` },
      { role: "assistant", content: "O bem-te-vi canta no galho da mangueira." },
    ],
  }));
}
await Deno.writeTextFile(data, lines.join("\n") + "\n");
const gptBase = await base("gpt-base", GPT);

const args = (b: string, out: string, ...more: string[]) => [
  "finetune",
  "--base",
  b,
  "--data",
  data,
  "--out",
  out,
  "--full",
  "--device",
  "cpu",
  "--batch-size",
  "4",
  ...more,
];

Deno.test("finetune --full: the base's validation loss first, then lower", async () => {
  const out = join(fx.dir, "ft");
  const r = await runCli(
    args(gptBase, out, "--steps", "30", "--lr", "3e-3", "--eval-every", "30", "--json"),
    { permissions: ["--allow-read", "--allow-write", "--allow-env", "--allow-ffi"] },
  );
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout.trim().split("\n").pop()!);
  assert.equal(s.format, "chat-tokens");
  assert.equal(s.examples.train + s.examples.val, 40);
  assert.ok(s.val_loss < s.base_val_loss - 0.5, `${s.base_val_loss} → ${s.val_loss}`);
  const metrics = (await Deno.readTextFile(join(out, "metrics.jsonl"))).trim().split("\n")
    .map((l) => JSON.parse(l));
  assert.equal(metrics[0].step, 0);
  assert.equal(metrics[0].val_loss, s.base_val_loss);
  // the loss counts the answers and their [EOS] only (4 rows a step)
  const answer = tok.encode("O bem-te-vi canta no galho da mangueira.", {
    addSpecialTokens: false,
  });
  assert.equal(metrics[1].targets, 4 * (answer.length + 1));
  const ck = await loadCheckpoint(out);
  assert.equal(ck.config.vocabSize, GPT.vocabSize);
});

Deno.test("finetune: resume continues exactly", async () => {
  const whole = join(fx.dir, "whole"), split = join(fx.dir, "split");
  const a = await bentevi(
    ...args(gptBase, whole, "--steps", "6", "--save-every", "3", "--keep", "2", "--json"),
  );
  assert.equal(a.code, 0, a.stderr);
  // the same run stopped after step 3: its directory without the last checkpoint
  await copyRun(whole, split, "step-000006");
  const c = await bentevi("resume", split, "--json");
  assert.equal(c.code, 0, c.stderr);
  const [wa, wc] = [await loadCheckpoint(whole), await loadCheckpoint(split)];
  assert.equal(wc.dir, join(split, "step-000006"));
  for (const [name, t] of wa.weights) {
    assert.deepEqual(wc.weights.get(name)!.data, t.data, name);
  }
});

Deno.test("finetune (LoRA, the default): an adapter checkpoint, exact resume, merge = the run's model", async () => {
  const lora = (out: string, ...more: string[]) =>
    args(gptBase, out, "--lora-rank", "4", ...more).filter((a) => a !== "--full");
  const whole = join(fx.dir, "lora-whole"), split = join(fx.dir, "lora-split");
  const a = await bentevi(
    ...lora(whole, "--steps", "4", "--save-every", "2", "--keep", "2", "--json"),
  );
  assert.equal(a.code, 0, a.stderr);
  const s = JSON.parse(a.stdout);
  assert.equal(s.adapter, join(whole, "step-000004"));
  assert.ok(s.val_loss < s.base_val_loss, `${s.base_val_loss} → ${s.val_loss}`);
  const files = [...Deno.readDirSync(s.adapter)].map((e) => e.name).sort();
  assert.ok(files.includes("adapter_model.safetensors") && files.includes("adapter_config.json"));
  assert.ok(!files.includes("model.safetensors"));
  // AdamW moments for the adapter only: 2 × (r·(in + out)) per adapted layer
  const optimizer = await loadOptimizerSize(join(s.adapter, "optimizer.safetensors"));
  const perLayer = (i: number, o: number) => 4 * (i + o);
  const d = GPT.dModel, m = GPT.mlpDim;
  const adapterParams = GPT.nLayer *
    (perLayer(d, 3 * d) + perLayer(d, d) + perLayer(d, m) + perLayer(m, d));
  assert.ok(optimizer >= 2 * adapterParams && optimizer < 2 * adapterParams + 4096, `${optimizer}`);
  // resume from step 2 of the same run gives the same adapter at step 4
  await copyRun(whole, split, "step-000004");
  const c = await bentevi("resume", split, "--json");
  assert.equal(c.code, 0, c.stderr);
  const read = async (dir: string) =>
    (await readSafetensors(join(dir, "step-000004", "adapter_model.safetensors"))).tensors;
  const [ta, tc] = [await read(whole), await read(split)];
  for (const [name, t] of ta) assert.deepEqual(tc.get(name)!.data, t.data, name);
  // the merged checkpoint's validation loss is the run's last one
  const merged = join(fx.dir, "lora-merged");
  const m2 = await bentevi(
    "adapter",
    "merge",
    "--base",
    gptBase,
    "--adapter",
    s.adapter,
    "--out",
    merged,
  );
  assert.equal(m2.code, 0, m2.stderr);
  const e = await bentevi(...args(merged, join(fx.dir, "lora-eval"), "--steps", "1", "--json"));
  assert.equal(e.code, 0, e.stderr);
  assert.ok(Math.abs(JSON.parse(e.stdout).base_val_loss - s.val_loss) < 1e-5);
});

Deno.test("finetune: a base without chat tokens gets them, their rows the mean of the others", async () => {
  const plain = await trainTokenizer([fx.text], { vocabSize: 300, specialTokens: ["[EOS]"] });
  assert.equal(plain.tokenToId("<|user|>"), undefined);
  const b = await base("plain-base", { ...GPT, vocabSize: plain.vocabSize }, plain);
  const out = join(fx.dir, "ft-plain");
  const r = await bentevi(...args(b, out, "--steps", "1", "--lr", "1e-12", "--json"));
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  assert.deepEqual(s.added_tokens, ["<|system|>", "<|user|>", "<|assistant|>"]);
  const ck = await loadCheckpoint(out);
  assert.equal(ck.config.vocabSize, plain.vocabSize + 3);
  const t = await Tokenizer.fromFile(ck.tokenizerPath!);
  const user = t.tokenToId("<|user|>")!;
  const wte = ck.weights.get("wte.weight")!, d = wte.shape[1];
  for (const c of [0, 5, d - 1]) {
    let mean = 0;
    for (let r = 0; r < plain.vocabSize; r++) mean += wte.data[r * d + c];
    mean /= plain.vocabSize;
    assert.ok(Math.abs(wte.data[user * d + c] - mean) < 1e-5, `column ${c}`);
  }
  // chat picks the same format up from the checkpoint's tokenizer_config.json
  const cfg = JSON.parse(await Deno.readTextFile(join(ck.dir, "tokenizer_config.json")));
  assert.match(cfg.chat_template, /<\|assistant\|>/);
});

Deno.test("finetune: an RWKV base", async () => {
  const b = await base("rwkv-base", { ...TINY_RWKV, contextLength: 64 });
  const r = await bentevi(...args(b, join(fx.dir, "ft-rwkv"), "--steps", "2", "--json"));
  assert.equal(r.code, 0, r.stderr);
  assert.ok(Number.isFinite(JSON.parse(r.stdout).base_val_loss));
});

Deno.test("finetune: bad input is one line and leaves no run directory", async () => {
  const bad = join(fx.dir, "bad.jsonl");
  await Deno.writeTextFile(bad, lines[0] + "\n" + '{"messages":[{"role":"bot","content":"x"}]}\n');
  const cases: [string[], RegExp][] = [
    [
      args(gptBase, join(fx.dir, "x1")).filter((a) => a !== "--full").concat("--lora-rank", "999"),
      /rank/,
    ],
    [args(gptBase, join(fx.dir, "x5"), "--lora-rank", "4"), /--lora-… options apply to LoRA/],
    [args(gptBase, join(fx.dir, "x2")).map((a) => a === data ? bad : a), /bad\.jsonl:2: .*"bot"/],
    [args(join(fx.dir, "nowhere"), join(fx.dir, "x3")), /nowhere/],
    [args(gptBase, join(fx.dir, "x4"), "--steps", "2", "--epochs", "1"), /--steps or --epochs/],
  ];
  for (const [a, pattern] of cases) {
    const r = await bentevi(...a);
    assertOneLineError(r, pattern);
    const out = a[a.indexOf("--out") + 1];
    await assert.rejects(() => Deno.stat(out), Deno.errors.NotFound);
  }
});

Deno.test("finetune --feedback: what each kind of record became; another model's file refused", async () => {
  const fb = join(fx.dir, "feedback.jsonl");
  const rec = (rating: string, prompt: string, answer: string, model = gptBase) =>
    JSON.stringify({
      time: "2026-12-04T20:00:00Z",
      rating,
      prompt,
      answer,
      persona: null,
      system: "Seja breve.",
      model,
      sampling: {},
    });
  const records: string[] = [];
  for (let i = 0; i < 6; i++) {
    records.push(rec("good", `Canta ${i}?`, "O bem-te-vi canta."));
    records.push(rec("bad", `Canta ${i}?`, "Não."));
  }
  records.push(rec("bad", "Sozinha?", "Ruim."), rec("good", "Só boa?", "Boa."));
  records.push(rec("good", "Só boa?", "Boa.")); // repeated
  await Deno.writeTextFile(fb, records.join("\n") + "\n");
  const out = join(fx.dir, "ft-feedback");
  const a = args(gptBase, out, "--steps", "2", "--json").filter((x) => x !== data);
  a[a.indexOf("--data")] = "--feedback";
  a.splice(a.indexOf("--feedback") + 1, 0, fb);
  const r = await bentevi(...a);
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  assert.deepEqual(s.feedback, {
    records: 15,
    good: 7,
    pairedBad: 6,
    pairs: 6,
    unpairedBad: 1,
    duplicates: 1,
    rerated: 0,
  });
  assert.ok(Number.isFinite(s.base_val_loss));
  assert.ok((await Deno.stat(join(out, "dpo_reference.json"))).isFile);
  // feedback given to another model
  await Deno.writeTextFile(fb, rec("good", "Oi", "Olá", join(fx.dir, "other")) + "\n");
  const other = await bentevi(...a.map((x) => x === out ? join(fx.dir, "ft-other") : x));
  assertOneLineError(other, /feedback\.jsonl:1: feedback on the model .*other, not on the base/);
});
