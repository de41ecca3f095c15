// The demo pipeline end to end on the bundled corpus (tiny training on the CPU backend), and
// the demo command's handling of its output folder and of bad input.
import assert from "node:assert/strict";
import { join } from "node:path";
import { runCliInProcess as bentevi } from "../_cli.ts";
import { DEMO_PLANS, DEMO_PROMPTS, demoPaths, runDemo } from "../../src/demo/demo.ts";
import { readRunSpec } from "../../src/train/trainer.ts";
import { Tokenizer } from "../../src/tokenizer/tokenizer.ts";
import { openTokenDataset } from "../../src/data/dataset/loader.ts";
import { tempDir } from "../_tmp.ts";

const tiny = { quick: true, steps: 2, batchSize: 2, context: 32, device: "cpu" as const };

Deno.test("demo: dump → text → tokenizer → dataset → model → samples and chat", async () => {
  await using tmp = await tempDir();
  const out = join(tmp.path, "demo");
  const lines: string[] = [];
  const r = await runDemo({ out, ...tiny, log: (l) => lines.push(l) });
  const p = demoPaths(out);
  // The bundled corpus: 78 articles kept, redirects and other namespaces skipped.
  assert.equal(r.wiki.kept, 78);
  assert.ok(r.wiki.redirects > 0 && r.wiki.otherNamespaces > 0);
  assert.ok(r.dialogues > 0);
  // The tokenizer learned text, not the JSON around it, and has the chat tokens.
  const tok = await Tokenizer.fromFile(p.tokenizer);
  assert.equal(tok.vocabSize, 1024);
  for (const t of ['{"', '":"', '","', "title"]) assert.equal(tok.tokenToId(t), undefined, t);
  assert.notEqual(tok.tokenToId("<|assistant|>"), undefined);
  // The dataset holds the corpus' tokens, split by document.
  const train = await openTokenDataset(`${p.dataset}.train.bin`);
  try {
    assert.equal(train.tokens.length, r.tokens.train);
    assert.ok(r.tokens.train > 50_000 && r.tokens.val > 1_000);
  } finally {
    train.close();
  }
  // Training ran the steps asked for, and generation continued every prompt.
  assert.equal(r.training.step, 2);
  assert.ok(Number.isFinite(r.training.loss));
  assert.deepEqual(r.samples.map((s) => s.prompt), [...DEMO_PROMPTS]);
  for (const s of r.samples) assert.ok(s.text.startsWith(s.prompt));
  assert.equal(typeof r.chat.assistant, "string");
  // The grounded question: the articles indexed, the comet's article retrieved and cited.
  assert.match(
    r.grounded.sources,
    /^\[1\] text\/wiki_00000\.jsonl — Cometa Valadares \(line \d+, chars 0–\d+\)/,
  );
  // A 32-token context leaves no room for a passage: the question goes alone, and says why.
  assert.match(r.grounded.notice ?? "", /no room for a passage/);
  assert.equal(r.grounded.prompt, "Quem descobriu o Cometa Valadares?");
  assert.equal(typeof r.grounded.answer, "string");
  // Files: samples.txt and demo.json, plus a checkpoint the other commands can open.
  const summary = JSON.parse(await Deno.readTextFile(p.summary));
  assert.equal(summary.articles, 78);
  assert.equal(summary.samples.length, DEMO_PROMPTS.length);
  assert.match(await Deno.readTextFile(p.samples), /> O rio/);
  assert.match(await Deno.readTextFile(p.samples), /grounded question \(index index\.db\)/);
  await Deno.stat(p.index);
  await Deno.stat(join(r.training.checkpoint, "model.safetensors"));
  assert.ok(lines.some((l) => l.startsWith("[6/6]")));
});

Deno.test("demo on the CPU backend: the plan's CPU steps and batch size, unless given", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const lines: string[] = [];
  // A tiny context keeps the plan's own step count quick to run here.
  const base = { quick: true, context: 8, device: "cpu" as const };
  const r = await runDemo({ out: join(dir, "a"), ...base, log: (l) => lines.push(l) });
  assert.equal(r.training.step, DEMO_PLANS.quick.cpu.steps);
  assert.equal(
    (await readRunSpec(r.training.runDir)).options.batchSize,
    DEMO_PLANS.quick.cpu.batchSize,
  );
  assert.ok(lines.some((l) => l.includes("training on the CPU backend")), lines.join("\n"));
  // Given values win over the CPU plan.
  const given = await runDemo({ out: join(dir, "b"), ...base, steps: 3, batchSize: 2 });
  assert.equal(given.training.step, 3);
  assert.equal((await readRunSpec(given.training.runDir)).options.batchSize, 2);
});

Deno.test("demo CLI: prints samples and the layout; replaces its own folder, refuses others", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const out = join(dir, "demo");
  const args = ["demo", "--quick", "--steps", "1", "--batch-size", "2", "--context", "16"];
  const first = await bentevi(...args, "--device", "cpu", "--out", out);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /Generated Portuguese/);
  assert.match(first.stdout, /tokenizer\.json/);
  assert.match(first.stdout, /samples\.txt/);
  // A 16-token context holds no passage: the grounded answer says why, with its sources.
  assert.match(
    first.stdout,
    /\(no room for a passage in the context \(\d+ tokens left\)\)\n {2}\[1\] /,
  );
  // A second run replaces the previous demo's folder.
  const again = await bentevi(...args, "--device", "cpu", "--out", out);
  assert.equal(again.code, 0, again.stderr);
  // A folder that is not a demo's is left alone.
  const other = join(dir, "mine");
  await Deno.mkdir(other);
  await Deno.writeTextFile(join(other, "keep.txt"), "meu");
  const refused = await bentevi(...args, "--device", "cpu", "--out", other);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /not a demo's output.*--force/);
  assert.equal(await Deno.readTextFile(join(other, "keep.txt")), "meu");
  // A dump that does not exist, and a file that is not a dump.
  const missing = await bentevi(...args, "--out", join(dir, "x"), "--dump", join(dir, "none.bz2"));
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /none\.bz2: file not found/);
  const notDump = join(dir, "page.xml");
  await Deno.writeTextFile(notDump, "<html><body>oi</body></html>");
  const bad = await bentevi(...args, "--out", join(dir, "y"), "--dump", notDump);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /page\.xml: not a MediaWiki XML dump/);
  assert.equal(bad.stderr.split("\n").filter((l) => l.startsWith("bentevi:")).length, 1);
});
