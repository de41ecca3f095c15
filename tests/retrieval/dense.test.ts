// Dense retrieval: chunk vectors from a checkpoint's embedder (the one `chunk --model` uses:
// mean-pooled last hidden state, L2-normalised), stored in the index; dense and hybrid
// (reciprocal-rank fusion) search; a changed model, and an index of token-embedding averages
// (an earlier Bentevi), are refused.
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { EMBEDDER_KIND, modelEmbedder } from "../../src/chunking/embedding.ts";
import { BenteviError } from "../../src/errors.ts";
import { buildIndex, indexInfo, Retriever, RRF_K, updateIndex } from "../../src/retrieval/mod.ts";
import { tinyGpt, writeTinyCheckpoint } from "../generate/helpers.ts";
import { tempDir } from "../_tmp.ts";

const TEXT = [
  "O tamanduá come formigas e cupins com a língua comprida.",
  "A jabuticaba nasce grudada no tronco da árvore.",
  "O trem das onze partiu atrasado da estação.",
  "A rede de pesca secava ao sol na praia.",
  "O violão tinha seis cordas de náilon.",
].join("\n\n");

Deno.test("--model: embeddings stored L2-normalised; dense finds a chunk by its own text; hybrid fuses by RRF; another model is refused", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const model = `${dir}/ckpt`;
  await writeTinyCheckpoint(model, tinyGpt(256));
  await Deno.writeTextFile(`${dir}/a.txt`, TEXT);
  const index = `${dir}/i.db`;
  // Budget in the model's tokens (its tokenizer counts when no --tokenizer is given).
  const r = await buildIndex([`${dir}/a.txt`], { index, model, maxTokens: 24, device: "cpu" });
  assert.equal(r.settings.unit, "tokens");
  assert.equal(r.settings.model?.dimension, 16);
  assert.equal(r.settings.model?.embedder, EMBEDDER_KIND);
  const info = await indexInfo(index);
  assert.equal(info.embeddings, info.chunks);
  assert.match(info.search, /bm25\+dense/);

  // The stored vectors are the embedder's (built in batches, recomputed here one at a time).
  const embedder = await modelEmbedder(model, { device: "cpu" });
  const db = new DatabaseSync(index, { readOnly: true });
  const rows = db.prepare(
    "SELECT c.text AS text, e.vector AS vector FROM chunks c JOIN embeddings e ON e.chunk_id = c.id",
  ).all() as { text: string; vector: Uint8Array }[];
  db.close();
  for (const row of rows) {
    const v = new Float32Array(row.vector.slice().buffer);
    const norm = Math.hypot(...v);
    assert.ok(Math.abs(norm - 1) < 1e-5, `norm ${norm}`);
    const [e] = await embedder.embed([row.text]);
    for (let i = 0; i < v.length; i++) assert.ok(Math.abs(v[i] - e[i]) < 1e-5);
  }
  embedder.close();

  const ret = await Retriever.open(index, { device: "cpu" });
  try {
    assert.equal(ret.hasEmbeddings, true);
    for (const row of rows) {
      const [top] = await ret.search(row.text, { k: 1, mode: "dense" });
      assert.equal(top.text, row.text);
      assert.ok(Math.abs(top.score - 1) < 1e-5);
    }
    // Hybrid (the default with embeddings): each hit's score is its fused RRF score.
    const query = "jabuticaba tronco";
    const hybrid = await ret.search(query, { k: 5 });
    const bm25 = ret.bm25Ids(query, 50);
    const dense = await ret.denseIds(query, 50);
    for (const h of hybrid) {
      const rank = (list: { id: number }[]) => list.findIndex((x) => x.id === h.id);
      let want = 0;
      for (const list of [bm25, dense]) {
        const i = rank(list);
        if (i >= 0) want += 1 / (RRF_K + i + 1);
      }
      assert.ok(Math.abs(h.score - want) < 1e-12);
    }
    assert.match(hybrid[0].text, /jabuticaba/); // first in BM25, high enough in dense
  } finally {
    ret.close();
  }

  // Another model at the same path: search and update refuse, in one line.
  await Deno.remove(model, { recursive: true });
  await writeTinyCheckpoint(model, { ...tinyGpt(256), nLayer: 1 });
  for (
    const p of [
      () => Retriever.open(index, { device: "cpu" }),
      () => updateIndex(index, { device: "cpu" }),
    ]
  ) {
    await assert.rejects(
      p,
      (e: unknown) =>
        e instanceof BenteviError && /built with another model .*--force/.test(e.message),
    );
  }
  // BM25 alone needs no model.
  const bm = await Retriever.open(index, { loadModel: false });
  assert.equal(
    (await bm.search("violão", { k: 1, mode: "bm25" }))[0].text.includes("violão"),
    true,
  );
  bm.close();
});

Deno.test("an index of token-embedding averages (an earlier Bentevi) is refused by name, with --force to rebuild", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const model = `${dir}/ckpt`;
  await writeTinyCheckpoint(model, tinyGpt(256));
  await Deno.writeTextFile(`${dir}/a.txt`, TEXT);
  const index = `${dir}/i.db`;
  const opts = { index, model, maxTokens: 24, device: "cpu" as const };
  await buildIndex([`${dir}/a.txt`], opts);
  // Make it what an earlier build wrote: model settings with a fingerprint, no embedder kind.
  const db = new DatabaseSync(index);
  const row = db.prepare("SELECT value FROM meta WHERE key = 'options'").get() as { value: string };
  const settings = JSON.parse(row.value);
  settings.model = { path: settings.model.path, dimension: 16, fingerprint: "ab12" };
  db.prepare("UPDATE meta SET value = ? WHERE key = 'options'").run(JSON.stringify(settings));
  db.close();
  const old = /token-embedding-average embedder of an earlier Bentevi.*rebuild it with --force/;
  for (
    const p of [
      () => Retriever.open(index, { device: "cpu" }),
      () => updateIndex(index, { device: "cpu" }),
      () => buildIndex([`${dir}/a.txt`], opts),
    ]
  ) {
    await assert.rejects(p, (e: unknown) => e instanceof BenteviError && old.test(e.message));
  }
  // BM25 still works on it; --force rebuilds it with the hidden-state embedder.
  const bm = await Retriever.open(index, { loadModel: false });
  assert.equal((await bm.search("violão", { k: 1, mode: "bm25" })).length, 1);
  bm.close();
  const rebuilt = await buildIndex([`${dir}/a.txt`], { ...opts, force: true });
  assert.equal(rebuilt.settings.model?.embedder, EMBEDDER_KIND);
  const ret = await Retriever.open(index, { device: "cpu" });
  assert.equal((await ret.search("violão", { k: 1, mode: "dense" })).length, 1);
  ret.close();
});
