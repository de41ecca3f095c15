// The semantic strategy with an embedder: cuts follow the vectors (a synchronous embedder in
// chunkText, an asynchronous one — a model on a device — in chunkStream), and a model
// checkpoint's embedder serves as one (chunk --model).
import assert from "node:assert/strict";
import {
  chunkStream,
  chunkText,
  denseCosine,
  EMBEDDER_KIND,
  modelEmbedder,
} from "../../src/chunking/mod.ts";
import { createLanguageModel } from "../../src/generate/inference.ts";
import { loadCheckpoint } from "../../src/model/mod.ts";
import { createBackend } from "../../src/backend/mod.ts";
import { tinyGpt, tinyRwkv, writeTinyCheckpoint } from "../generate/helpers.ts";
import { runCli } from "../_cli.ts";
import { tempDir } from "../_tmp.ts";

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
function topicVector(text: string): Float32Array {
  const v = new Float32Array(2);
  for (const w of text.toLowerCase().match(/\p{L}+/gu) ?? []) {
    const t = TOPIC.get(w);
    if (t !== undefined) v[t] += 1;
  }
  return v;
}

const topicEmbed = (texts: readonly string[]) => texts.map(topicVector);

Deno.test("semantic with an embedder cuts where the vectors change, losslessly", async () => {
  const opts = { strategy: "semantic" as const, maxTokens: 90, minTokens: 20 };
  const chunks = chunkText(TEXT, { ...opts, embed: topicEmbed });
  assert.equal(chunks.map((c) => c.text).join(""), TEXT);
  for (const c of chunks) assert.ok(c.tokens <= 90);
  const cut = CATS.join(" ").length + 1;
  assert.ok(chunks.some((c) => c.end === cut), JSON.stringify(chunks.map((c) => c.end)));
  // Chunks stay single-topic.
  for (const c of chunks) {
    const v = topicVector(c.text);
    assert.ok(v[0] === 0 || v[1] === 0, c.text);
  }
  // An asynchronous embedder (batches, as a model's): the same chunks from chunkStream, fed in
  // pieces; chunkText refuses it in one line.
  const batches: number[] = [];
  const later = async (texts: readonly string[]) => {
    batches.push(texts.length);
    await new Promise((r) => setTimeout(r, 1));
    return topicEmbed(texts);
  };
  async function* pieces() {
    for (let i = 0; i < TEXT.length; i += 17) yield TEXT.slice(i, i + 17);
  }
  const streamed = [];
  for await (const c of chunkStream(pieces(), { ...opts, embed: later })) streamed.push(c);
  assert.deepEqual(streamed, chunks);
  assert.ok(batches.length >= 1 && batches.some((n) => n > 1), `batches ${batches}`);
  assert.throws(() => chunkText(TEXT, { ...opts, embed: later }), /synchronous embedder/);
});

Deno.test("denseCosine", () => {
  assert.equal(denseCosine([1, 0], [0, 1]), 0);
  assert.ok(Math.abs(denseCosine([1, 2], [2, 4]) - 1) < 1e-12);
  assert.equal(denseCosine([0, 0], [1, 1]), 0);
});

Deno.test("modelEmbedder: the model's own embed over the tokenizer's ids; RWKV too; chunk --model", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  await writeTinyCheckpoint(`${dir}/gpt`, tinyGpt(256));
  const e = await modelEmbedder(`${dir}/gpt`, { device: "cpu" });
  try {
    assert.equal(e.kind, EMBEDDER_KIND);
    assert.equal(e.dimension, 16);
    const texts = ["ab", "ba", "", "Uma frase mais longa."];
    const vs = await e.embed(texts);
    // The same as the model's method, run on a model of its own over the same token ids.
    const ck = await loadCheckpoint(`${dir}/gpt`, { lazy: true });
    const own = createLanguageModel(await createBackend("cpu"), ck.config, ck.weights);
    const want = await own.embed!(
      texts.map((t) => e.tokenizer.encode(t, { addSpecialTokens: false })),
    );
    own.dispose();
    vs.forEach((v, i) => assert.deepEqual(Array.from(v), Array.from(want[i])));
    // Hidden states see order (a token average would not); empty text: zeros.
    assert.notDeepEqual(Array.from(vs[0]), Array.from(vs[1]));
    assert.deepEqual(Array.from(vs[2]), new Array(16).fill(0));
  } finally {
    e.close();
  }
  // RWKV too (ln_out's output pooled from the zero state).
  await writeTinyCheckpoint(`${dir}/rwkv`, tinyRwkv(256));
  const r = await modelEmbedder(`${dir}/rwkv`, { device: "cpu" });
  const [rv] = await r.embed(["Uma frase."]);
  r.close();
  assert.ok(Math.abs(Math.hypot(...rv) - 1) < 1e-5);
  // From the CLI: chunk --model with the semantic strategy; refused with another strategy.
  const src = `${dir}/t.txt`;
  await Deno.writeTextFile(src, TEXT);
  const perms = ["--allow-read", "--allow-write", "--allow-env"];
  const ok = await runCli(
    [
      "chunk",
      src,
      "--strategy",
      "semantic",
      "--max-chars",
      "90",
      "--model",
      `${dir}/gpt`,
      "--device",
      "cpu",
    ],
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
