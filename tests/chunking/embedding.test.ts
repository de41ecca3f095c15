// The semantic strategy with an embedder: cuts follow the vectors, and a model checkpoint's
// token embeddings serve as one (chunk --model).
import assert from "node:assert/strict";
import { chunkText, denseCosine, modelEmbedder } from "../../src/chunking/mod.ts";
import { tinyGpt, tinyRwkv, writeTinyCheckpoint } from "../generate/helpers.ts";
import { runCli } from "../_cli.ts";

// Two topics whose sentences share no content words with a third vocabulary in between: the
// lexical strategy cannot tell where "gato" prose turns into "bolsa" prose when each sentence
// uses synonyms, but an embedder that knows the synonyms can.
const CATS = ["O felino dorme.", "O bichano mia.", "O gatinho pula.", "O felino come."];
const MARKETS = ["A bolsa subiu.", "O mercado caiu.", "As ações fecharam.", "A bolsa abriu."];
const TEXT = [...CATS, ...MARKETS].join(" ");
const TOPIC = new Map<string, number>([
  ["felino", 0],
  ["bichano", 0],
  ["gatinho", 0],
  ["bolsa", 1],
  ["mercado", 1],
  ["ações", 1],
]);
function topicEmbed(text: string): Float32Array {
  const v = new Float32Array(2);
  for (const w of text.toLowerCase().match(/\p{L}+/gu) ?? []) {
    const t = TOPIC.get(w);
    if (t !== undefined) v[t] += 1;
  }
  return v;
}

Deno.test("semantic with an embedder cuts where the vectors change, losslessly", () => {
  const opts = { strategy: "semantic" as const, maxTokens: 90, minTokens: 20 };
  const chunks = chunkText(TEXT, { ...opts, embed: topicEmbed });
  assert.equal(chunks.map((c) => c.text).join(""), TEXT);
  for (const c of chunks) assert.ok(c.tokens <= 90);
  const cut = CATS.join(" ").length + 1;
  assert.ok(chunks.some((c) => c.end === cut), JSON.stringify(chunks.map((c) => c.end)));
  // Chunks stay single-topic.
  for (const c of chunks) {
    const v = topicEmbed(c.text);
    assert.ok(v[0] === 0 || v[1] === 0, c.text);
  }
});

Deno.test("denseCosine", () => {
  assert.equal(denseCosine([1, 0], [0, 1]), 0);
  assert.ok(Math.abs(denseCosine([1, 2], [2, 4]) - 1) < 1e-12);
  assert.equal(denseCosine([0, 0], [1, 1]), 0);
});

Deno.test("modelEmbedder: the mean of the checkpoint's token-embedding rows", async () => {
  const dir = await Deno.makeTempDir();
  for (const [name, config] of [["gpt", tinyGpt(256)], ["rwkv", tinyRwkv(256)]] as const) {
    await writeTinyCheckpoint(`${dir}/${name}`, config);
    const { embed, dimension, tokenizer } = await modelEmbedder(`${dir}/${name}`);
    assert.equal(dimension, config.dModel);
    const v = embed("ab");
    const [a, b] = tokenizer.encode("ab");
    const again = embed("ba");
    assert.deepEqual(Array.from(v), Array.from(again)); // a mean: order does not matter
    assert.notDeepEqual(Array.from(embed("a")), Array.from(embed("b")));
    assert.ok(a !== b);
    assert.deepEqual(Array.from(embed("")), new Array(dimension).fill(0));
  }
  // From the CLI: chunk --model with the semantic strategy; refused with another strategy.
  const src = `${dir}/t.txt`;
  await Deno.writeTextFile(src, TEXT);
  const perms = ["--allow-read", "--allow-write", "--allow-env"];
  const ok = await runCli(
    ["chunk", src, "--strategy", "semantic", "--max-chars", "90", "--model", `${dir}/gpt`],
    { permissions: perms },
  );
  assert.equal(ok.code, 0, ok.stderr);
  const chunks = ok.stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(chunks.map((c: { text: string }) => c.text).join(""), TEXT);
  const bad = await runCli(["chunk", src, "--strategy", "fixed", "--model", `${dir}/gpt`], {
    permissions: perms,
  });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /--model is used by --strategy semantic only/);
});
