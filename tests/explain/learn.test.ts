// `bentevi learn`: each lesson, in a reduced form (few steps), through the library, and the
// command's list and bad input through the CLI with its documented permissions.
import assert from "node:assert/strict";
import { runLesson } from "../../src/explain/lessons.ts";
import { assertOneLineError, runCli } from "../_cli.ts";

const PERMISSIONS = ["--allow-read", "--allow-env"];

Deno.test("learn tokenization: merges, the inspect view, fewer tokens with a larger vocabulary, round trip", async () => {
  const r = await runLesson("tokenization", { vocabSize: 300, text: "O bem-te-vi cantou." });
  const f = r.facts as {
    merges: string[][];
    ids: number[];
    sizes: { vocab: number; tokens: number }[];
    roundTrip: boolean;
  };
  assert.equal(f.merges.length, 10);
  // Whole characters are shown quoted, partial UTF-8 bytes as <C3>: the quoted ones join up.
  const quoted = f.merges.filter((m) => m.every((x) => x.startsWith('"')));
  assert.ok(quoted.length >= 5);
  for (const [a, b, ab] of quoted) assert.equal(JSON.parse(a) + JSON.parse(b), JSON.parse(ab));
  assert.equal(f.roundTrip, true);
  assert.deepEqual(f.sizes.map((s) => s.vocab), [264, 300, 600]);
  assert.equal(f.sizes[0].tokens, new TextEncoder().encode("O bem-te-vi cantou.").length);
  assert.ok(f.sizes[1].tokens < f.sizes[0].tokens && f.sizes[2].tokens <= f.sizes[1].tokens);
  const text = r.lines.join("\n");
  assert.match(text, /^Lição 1 — Tokenização/);
  assert.match(text, /pre-tokens \(\d+\): "O" " bem"/, "the tokenizer inspect view");
  assert.match(text, /\nExperimente:\n {2}bentevi learn tokenization --text/);
});

Deno.test("learn embeddings, attention, training: the real model code in a few steps", async () => {
  const emb = await runLesson("embeddings", { steps: 2, vocabSize: 320, text: "o a de" });
  const e = emb.facts as { shape: number[]; pairs: { before: number; after: number }[] };
  assert.deepEqual(e.shape, [320, 32]);
  assert.equal(e.pairs.length, 3);
  for (const p of e.pairs) assert.ok(Math.abs(p.before) <= 1 && Math.abs(p.after) <= 1);
  assert.match(emb.lines.join("\n"), /A tabela wte tem forma \[320, 32\]/);

  const att = await runLesson("attention", { steps: 2, vocabSize: 320, text: "Oi, tudo bem?" });
  const m = (att.facts as { matrix: number[][][]; tokens: string[] }).matrix;
  assert.equal(m.length, (att.facts as { tokens: string[] }).tokens.length);
  for (const [t, heads] of m.entries()) {
    assert.equal(heads.length, 2);
    for (const row of heads) {
      assert.equal(row.length, t + 1, "causal: a token sees itself and what came before");
      assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-9);
    }
  }
  assert.deepEqual(m[0], [[1], [1]], "the first token can only look at itself");
  assert.match(att.lines.join("\n"), /Cabeça 1 do último bloco/);
  assert.match(att.lines.join("\n"), /each of the 2 blocks/, "the /explain walkthrough");

  const tr = await runLesson("training", { steps: 12, vocabSize: 320 });
  const t = tr.facts as { losses: number[]; valLoss: number; uniformLoss: number };
  assert.equal(t.losses.length, 12);
  assert.ok(Math.abs(t.losses[0] - t.uniformLoss) < 0.5, "an untrained model guesses: loss ≈ ln V");
  const tail = t.losses.slice(-4).reduce((a, b) => a + b, 0) / 4;
  assert.ok(tail < t.losses[0] - 0.3, `the loss falls: ${t.losses[0]} → ${tail}`);
  assert.ok(t.valLoss < t.uniformLoss, "and on text it did not train on");
  assert.match(tr.lines.join("\n"), /passo +12 +perda/);
});

Deno.test("CLI: learn lists the lessons; bad input is one line", async () => {
  const list = await runCli(["learn"], { permissions: PERMISSIONS });
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /tokenization .*\n.*embeddings .*\n.*attention .*\n.*training /);
  assertOneLineError(
    await runCli(["learn", "cooking"], { permissions: PERMISSIONS }),
    /unknown lesson "cooking"; choose one of tokenization, embeddings, attention, training/,
    { only: true },
  );
  assertOneLineError(
    await runCli(["learn", "training", "--corpus", "/no/such/file.txt"], {
      permissions: PERMISSIONS,
    }),
    /\/no\/such\/file\.txt/,
    { only: true },
  );
});
