// Dense retrieval: chunk vectors from a checkpoint's embedder (the one `chunk --model` uses),
// L2-normalised in the index; dense and hybrid (reciprocal-rank fusion) search; a changed model
// is refused.
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { modelEmbedder } from "../../src/chunking/embedding.ts";
import { BenteviError } from "../../src/errors.ts";
import { buildIndex, indexInfo, Retriever, RRF_K, updateIndex } from "../../src/retrieval/mod.ts";
import { tinyGpt, tinyRwkv, writeTinyCheckpoint } from "../generate/helpers.ts";

const TEXT = [
  "O tamanduá come formigas e cupins com a língua comprida.",
  "A jabuticaba nasce grudada no tronco da árvore.",
  "O trem das onze partiu atrasado da estação.",
  "A rede de pesca secava ao sol na praia.",
  "O violão tinha seis cordas de náilon.",
].join("\n\n");

Deno.test("--model: embeddings stored L2-normalised; dense finds a chunk by its own text; hybrid fuses by RRF; another model is refused", async () => {
  const dir = await Deno.makeTempDir();
  const model = `${dir}/ckpt`;
  await writeTinyCheckpoint(model, tinyGpt(256));
  await Deno.writeTextFile(`${dir}/a.txt`, TEXT);
  const index = `${dir}/i.db`;
  // Budget in the model's tokens (its tokenizer counts when no --tokenizer is given).
  const r = await buildIndex([`${dir}/a.txt`], { index, model, maxTokens: 24 });
  assert.equal(r.settings.unit, "tokens");
  assert.equal(r.settings.model?.dimension, 16);
  const info = await indexInfo(index);
  assert.equal(info.embeddings, info.chunks);
  assert.match(info.search, /bm25\+dense/);

  // The stored vectors are the embedder's, normalised.
  const { embed } = await modelEmbedder(model);
  const db = new DatabaseSync(index, { readOnly: true });
  const rows = db.prepare(
    "SELECT c.text AS text, e.vector AS vector FROM chunks c JOIN embeddings e ON e.chunk_id = c.id",
  ).all() as { text: string; vector: Uint8Array }[];
  db.close();
  for (const row of rows) {
    const v = new Float32Array(row.vector.slice().buffer);
    const norm = Math.hypot(...v);
    assert.ok(Math.abs(norm - 1) < 1e-5, `norm ${norm}`);
    const e = embed(row.text);
    const en = Math.hypot(...e);
    for (let i = 0; i < v.length; i++) assert.ok(Math.abs(v[i] - e[i] / en) < 1e-5);
  }

  const ret = await Retriever.open(index);
  try {
    assert.equal(ret.hasEmbeddings, true);
    for (const row of rows) {
      const [top] = ret.search(row.text, { k: 1, mode: "dense" });
      assert.equal(top.text, row.text);
      assert.ok(Math.abs(top.score - 1) < 1e-5);
    }
    // Hybrid (the default with embeddings): each hit's score is its fused RRF score.
    const query = "jabuticaba tronco";
    const hybrid = ret.search(query, { k: 5 });
    const bm25 = ret.bm25Ids(query, 50);
    const dense = ret.denseIds(query, 50);
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
  await writeTinyCheckpoint(model, tinyRwkv(256));
  for (const p of [() => Retriever.open(index), () => updateIndex(index)]) {
    await assert.rejects(
      p,
      (e: unknown) =>
        e instanceof BenteviError && /built with another model .*--force/.test(e.message),
    );
  }
  // BM25 alone needs no model.
  const bm = await Retriever.open(index, { loadModel: false });
  assert.equal(bm.search("violão", { k: 1, mode: "bm25" })[0].text.includes("violão"), true);
  bm.close();
});
