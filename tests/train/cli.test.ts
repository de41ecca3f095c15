// The training commands end to end through the CLI (in-process, CPU backend, tiny runs).
import assert from "node:assert/strict";
import { runCliInProcess as bentevi } from "../_cli.ts";
import { makeFixture } from "./helpers.ts";

const fx = await makeFixture();

Deno.test("train → resume → eval → info → lr-find, and bad input", async () => {
  const run = `${fx.dir}/run`;
  const common = ["--data", fx.text, "--tokenizer", fx.tokenizer, "--device", "cpu"];
  const t = await bentevi(
    "train",
    ...common,
    "--model",
    "gpt-micro",
    "--out",
    run,
    "--steps",
    "3",
    "--batch-size",
    "2",
    "--context",
    "16",
    "--eval-every",
    "3",
    "--eval-batches",
    "1",
    "--json",
  );
  assert.equal(t.code, 0, t.stderr);
  const s = JSON.parse(t.stdout);
  assert.equal(s.step, 3);
  assert.ok(s.val_loss > 0 && s.val_perplexity > 1);
  assert.match(t.stderr, /parameters/);
  const metrics = (await Deno.readTextFile(`${run}/metrics.jsonl`)).trim().split("\n").map((l) =>
    JSON.parse(l)
  );
  for (const m of metrics.filter((m) => "loss" in m)) {
    for (const k of ["step", "loss", "lr", "tokens_per_second"]) assert.ok(k in m, k);
  }
  assert.ok(metrics.some((m) => "val_loss" in m));

  // The same directory again is refused (nothing changed), --force would replace it.
  const again = await bentevi("train", ...common, "--out", run, "--steps", "3");
  assert.notEqual(again.code, 0);
  assert.match(again.stderr, /^bentevi: .*already exists; use `resume/m);

  const r = await bentevi("resume", run, "--steps", "5", "--device", "cpu", "--json");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).step, 5);
  const done = await bentevi("resume", run, "--device", "cpu");
  assert.notEqual(done.code, 0);
  assert.match(done.stderr, /already at step 5; pass --steps/);

  const e = await bentevi(
    "eval",
    "--checkpoint",
    run,
    "--data",
    fx.text,
    "--batch-size",
    "2",
    "--context",
    "16",
    "--device",
    "cpu",
    "--json",
  );
  assert.equal(e.code, 0, e.stderr);
  const ev = JSON.parse(e.stdout);
  assert.ok(ev.checkpoint.endsWith("step-000005"));
  assert.ok(
    ev.accuracy >= 0 && ev.accuracy <= 1 && Math.abs(ev.perplexity - Math.exp(ev.loss)) < 1e-6,
  );

  const i = await bentevi("info", "--model", "rwkv-micro", "--vocab-size", "4096", "--json");
  assert.equal(i.code, 0, i.stderr);
  assert.equal(JSON.parse(i.stdout).parameters, 5517312);

  const lf = await bentevi(
    "lr-find",
    ...common,
    "--model",
    "rwkv-micro",
    "--steps",
    "8",
    "--batch-size",
    "2",
    "--context",
    "16",
    "--json",
  );
  assert.equal(lf.code, 0, lf.stderr);
  const lr = JSON.parse(lf.stdout);
  assert.equal(lr.points.length, 8);
  assert.ok(lr.suggested_lr > 0);

  const bad = await bentevi("train", ...common, "--model", "gpt-giant", "--out", `${fx.dir}/x`);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /unknown model preset "gpt-giant"; available: /);
  const badLr = await bentevi(
    "train",
    ...common,
    "--out",
    `${fx.dir}/y`,
    "--lr",
    "1e-4",
    "--min-lr",
    "1e-3",
  );
  assert.notEqual(badLr.code, 0);
  assert.match(badLr.stderr, /--min-lr 0.001 is larger than --lr 0.0001/);
  const ctx = await bentevi("train", ...common, "--out", `${fx.dir}/z`, "--context", "4096");
  assert.notEqual(ctx.code, 0);
  assert.match(ctx.stderr, /--context 4096 exceeds gpt-micro's context length 128/);
  await Deno.writeTextFile(`${fx.dir}/small.txt`, "Olá, bem-te-vi! ".repeat(20));
  const small = await bentevi(
    "train",
    "--data",
    `${fx.dir}/small.txt`,
    "--tokenizer",
    fx.tokenizer,
    "--device",
    "cpu",
    "--out",
    `${fx.dir}/w`,
    "--context",
    "64",
  );
  assert.notEqual(small.code, 0);
  assert.match(
    small.stderr,
    /small.txt: the validation split has \d+ tokens, fewer than context \+ 1 = 65/,
  );
  for (const d of ["w", "x", "y", "z"]) await assert.rejects(() => Deno.stat(`${fx.dir}/${d}`));
  const badCk = await bentevi("eval", "--checkpoint", `${fx.dir}/nothing`, "--data", fx.text);
  assert.notEqual(badCk.code, 0);
  assert.match(badCk.stderr, /^bentevi: .*nothing/m);
});

// Issue 13 item 8: `resume` without --device ran a CPU run's later steps on WebGPU (the
// "auto" default), so a resumed run's losses differed from the uninterrupted run's in the
// last float32 bits. A run resumes on the device it was started with.
Deno.test("a CPU run cut back to a checkpoint and resumed without --device repeats its losses bit for bit", async () => {
  const full = `${fx.dir}/exact-full`, cut = `${fx.dir}/exact-cut`;
  const t = await bentevi(
    "train",
    "--data",
    fx.text,
    "--tokenizer",
    fx.tokenizer,
    "--device",
    "cpu",
    "--model",
    "gpt-micro",
    "--out",
    full,
    "--steps",
    "6",
    "--save-every",
    "3",
    "--eval-every",
    "6",
    "--eval-batches",
    "1",
    "--batch-size",
    "2",
    "--context",
    "16",
  );
  assert.equal(t.code, 0, t.stderr);
  // Cut back to step 3: the run directory as it was when step 3's checkpoint was written.
  await Deno.mkdir(cut);
  for (const f of ["run.json", "tokenizer.json", "metrics.jsonl"]) {
    await Deno.copyFile(`${full}/${f}`, `${cut}/${f}`);
  }
  await Deno.mkdir(`${cut}/step-000003`);
  for await (const e of Deno.readDir(`${full}/step-000003`)) {
    await Deno.copyFile(`${full}/step-000003/${e.name}`, `${cut}/step-000003/${e.name}`);
  }
  const r = await bentevi("resume", cut);
  assert.equal(r.code, 0, r.stderr);
  const losses = async (run: string) =>
    (await Deno.readTextFile(`${run}/metrics.jsonl`)).trim().split("\n").map((l) => JSON.parse(l))
      .filter((m) => "loss" in m).map((m) => [m.step, m.loss, m.grad_norm]);
  const a = await losses(full), b = await losses(cut);
  assert.equal(a.length, 6);
  assert.deepEqual(b, a);
  assert.match(r.stderr, /training gpt-micro on CPU/);
});
