// Retrieval side by side with MiniSearch (npm), the in-process full-text engine a TypeScript user
// would pick: the same chunks (read back from a Bentevi index), the same term analysis (accents
// folded, Portuguese stop words dropped), queries alternated between the two engines one by one.
//
//   deno run -A bench/retrieval.ts [CORPUS…] [--queries 300] [--seed 1] [--stem] [--json]
//     [--demo-queries tests/retrieval/demo_queries.jsonl --demo-shard out/demo/text/wiki_00000.jsonl
//      [--model out/demo/run/step-000600]] [--corpus-model] [--device cpu|native|webgpu|auto]
//
// CORPUS defaults to ../shared/data/pt/machado. It reports:
// - build: Bentevi `index build` end to end (read, chunk, analyse, insert; MB/s of input) and the
//   index size on disk; MiniSearch `addAll` of the same chunks (in memory) and its JSON size;
// - known-item queries: N chunks drawn with a seeded PRNG; from each, 4–8 consecutive words
//   from the middle, half of them lower-cased with accents stripped; the chunk is the one
//   relevant answer: recall@1/5/10 and MRR for both engines, and per-query latency p50/p95;
// - with --demo-queries: the hand-written demo query set (titles as relevance) on both engines;
//   with --model, the demo index gets the checkpoint's embeddings and Bentevi is scored as BM25,
//   dense and hybrid (RRF); --corpus-model embeds the corpus index too (dense/hybrid on the
//   known-item queries). With --model: the embedding throughput (chunks/s, tokens/s) of the
//   model on --device (default cpu) over the index's chunks.
import MiniSearch from "minisearch";
import { parseArgs } from "node:util";
import { DatabaseSync } from "node:sqlite";
import { buildIndex, EMBED_BATCH } from "../src/retrieval/build.ts";
import { foldAccents, isStopword } from "../src/retrieval/analyzer.ts";
import { readQueries } from "../src/retrieval/eval.ts";
import { Retriever, type SearchMode } from "../src/retrieval/search.ts";
import { Mulberry32 } from "../src/random.ts";
import type { DeviceChoice } from "../src/backend/mod.ts";
import { modelEmbedder } from "../src/chunking/embedding.ts";

const { values, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: {
    queries: { type: "string", default: "300" },
    seed: { type: "string", default: "1" },
    stem: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    "demo-queries": { type: "string" },
    "demo-shard": { type: "string" },
    model: { type: "string" },
    "corpus-model": { type: "boolean", default: false },
    device: { type: "string", default: "cpu" },
  },
});
const device = values.device as DeviceChoice;
const corpus = positionals.length ? positionals : ["../shared/data/pt/machado"];
const work = await Deno.makeTempDir({ prefix: "bentevi-retrieval-bench-" });

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
}
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

async function dirSize(paths: string[]): Promise<number> {
  let n = 0;
  for (const p of paths) n += await Deno.stat(p).then((s) => s.size).catch(() => 0);
  return n;
}

interface Scores {
  r1: number;
  r5: number;
  r10: number;
  mrr: number;
  p50: number;
  p95: number;
}

type Engine = (q: string) => Promise<{ id: number; key: string }[]>;

async function score(
  engines: Record<string, Engine>,
  queries: { query: string; relevant: (string | number)[] }[],
): Promise<Record<string, Scores>> {
  const names = Object.keys(engines);
  const acc: Record<string, { r: number[]; rr: number; t: number[] }> = {};
  for (const n of names) acc[n] = { r: [0, 0, 0], rr: 0, t: [] };
  for (const [i, q] of queries.entries()) {
    // alternate which engine goes first
    const order = i % 2 ? [...names].reverse() : names;
    for (const name of order) {
      const t0 = performance.now();
      let hits: { id: number; key: string }[];
      try {
        hits = (await engines[name](q.query)).slice(0, 10);
      } catch {
        hits = [];
      }
      acc[name].t.push(performance.now() - t0);
      const rel = (h: { id: number; key: string }) =>
        q.relevant.some((r) => (typeof r === "number" ? h.id === r : h.key === r));
      [1, 5, 10].forEach((k, j) => {
        if (hits.slice(0, k).some(rel)) acc[name].r[j]++;
      });
      const first = hits.findIndex(rel);
      if (first >= 0) acc[name].rr += 1 / (first + 1);
    }
  }
  const out: Record<string, Scores> = {};
  for (const n of names) {
    const a = acc[n];
    const m = queries.length;
    out[n] = {
      r1: round(a.r[0] / m),
      r5: round(a.r[1] / m),
      r10: round(a.r[2] / m),
      mrr: round(a.rr / m),
      p50: round(pct(a.t, 0.5)),
      p95: round(pct(a.t, 0.95)),
    };
  }
  return out;
}

const miniOptions = {
  fields: ["title", "text"],
  storeFields: ["key"],
  processTerm: (t: string) => {
    const f = foldAccents(t);
    return f === "" || isStopword(f) ? null : f;
  },
  searchOptions: { boost: { title: 2 } },
};

async function run(inputs: string[], label: string, model?: string) {
  const index = `${work}/${label}.db`;
  const bytes = await (async () => {
    let n = 0;
    for (const p of inputs) {
      for await (const e of walk(p)) n += e;
    }
    return n;
  })();
  const t0 = performance.now();
  const report = await buildIndex(inputs, { index, stem: values.stem, model, device });
  const buildSeconds = (performance.now() - t0) / 1000;
  const indexBytes = await dirSize([index, `${index}-wal`]);
  const db = new DatabaseSync(index, { readOnly: true });
  const chunks = db.prepare(
    "SELECT c.id AS id, coalesce(c.title, '') AS title, c.text AS text, d.path AS path FROM chunks c JOIN documents d ON d.id = c.document_id ORDER BY c.id",
  ).all() as { id: number; title: string; text: string; path: string }[];
  db.close();
  const t1 = performance.now();
  const mini = new MiniSearch(miniOptions);
  mini.addAll(chunks.map((c) => ({ id: c.id, title: c.title, text: c.text, key: c.title })));
  const miniSeconds = (performance.now() - t1) / 1000;
  const miniBytes = new TextEncoder().encode(JSON.stringify(mini)).length;
  if (model) await measureEmbedding(label, chunks.map((c) => c.text));
  return {
    label,
    index,
    report,
    buildSeconds,
    bytes,
    indexBytes,
    chunks,
    mini,
    miniSeconds,
    miniBytes,
  };
}

/**
 * Embedding throughput: the index's chunks embedded again by the model alone (batches of
 * EMBED_BATCH, as the build does), chunks/s and tokens/s — with `--model` only.
 */
const embedRates: Record<string, { chunks_per_s: number; tokens_per_s: number }> = {};
async function measureEmbedding(label: string, texts: string[]) {
  if (!values.model) return;
  const e = await modelEmbedder(values.model, { device });
  try {
    await e.embed(texts.slice(0, 8)); // warm-up
    let tokens = 0;
    for (const t of texts) tokens += e.tokenizer.encode(t, { addSpecialTokens: false }).length;
    const t0 = performance.now();
    for (let i = 0; i < texts.length; i += EMBED_BATCH) {
      await e.embed(texts.slice(i, i + EMBED_BATCH));
    }
    const s = (performance.now() - t0) / 1000;
    embedRates[label] = {
      chunks_per_s: round(texts.length / s, 1),
      tokens_per_s: round(tokens / s),
    };
  } finally {
    e.close();
  }
}
function embedRate(r: { label: string }) {
  return embedRates[r.label] ? { embedding: embedRates[r.label] } : {};
}

async function* walk(p: string): AsyncGenerator<number> {
  const s = await Deno.stat(p);
  if (s.isFile) {
    yield s.size;
    return;
  }
  for await (const e of Deno.readDir(p)) if (!e.name.startsWith(".")) yield* walk(`${p}/${e.name}`);
}

function engines(retriever: Retriever, mini: MiniSearch): Record<string, Engine> {
  const bentevi = (mode: SearchMode): Engine => async (q) =>
    (await retriever.search(q, { k: 10, mode })).map((h) => ({
      id: h.id,
      key: h.source.title ?? "",
    }));
  const modes: Record<string, Engine> = retriever.hasEmbeddings
    ? { bm25: bentevi("bm25"), dense: bentevi("dense"), hybrid: bentevi("hybrid") }
    : { bentevi: bentevi("bm25") };
  return {
    ...modes,
    minisearch: async (q) =>
      await mini.search(q).slice(0, 10).map((r) => ({
        id: Number(r.id),
        key: String(r.key ?? ""),
      })),
  };
}

const result: Record<string, unknown> = {};
const main = await run(corpus, "corpus", values["corpus-model"] ? values.model : undefined);
{
  const prng = new Mulberry32(Number(values.seed));
  const rnd = () => prng.next();
  const n = Number(values.queries);
  const queries: { query: string; relevant: number[] }[] = [];
  while (queries.length < n) {
    const c = main.chunks[Math.floor(rnd() * main.chunks.length)];
    const words = c.text.match(/[\p{L}\p{N}-]+/gu) ?? [];
    if (words.length < 20) continue;
    const len = 4 + Math.floor(rnd() * 5);
    const at = Math.floor(words.length / 2 - len / 2);
    let q = words.slice(at, at + len).join(" ");
    if (queries.length % 2) q = foldAccents(q);
    if (!q.split(" ").some((w) => !isStopword(foldAccents(w)))) continue;
    queries.push({ query: q, relevant: [c.id] });
  }
  const retriever = await Retriever.open(main.index, { device });
  // warm-up
  for (const q of queries.slice(0, 20)) {
    await retriever.search(q.query, { k: 10 });
    main.mini.search(q.query);
  }
  const s = await score(engines(retriever, main.mini), queries);
  retriever.close();
  result.corpus = {
    inputs: corpus,
    mb: round(main.bytes / 1e6, 2),
    chunks: main.chunks.length,
    bentevi_build_s: round(main.buildSeconds, 2),
    bentevi_build_mb_s: round(main.bytes / 1e6 / main.buildSeconds, 2),
    bentevi_index_mb: round(main.indexBytes / 1e6, 2),
    ...embedRate(main),
    minisearch_add_s: round(main.miniSeconds, 2),
    minisearch_json_mb: round(main.miniBytes / 1e6, 2),
    known_item_queries: n,
    scores: s,
    latency_ratio_p50: round(s.minisearch.p50 / (s.bentevi ?? s.bm25).p50, 2),
  };
}
if (values["demo-queries"] && values["demo-shard"]) {
  const demo = await run([values["demo-shard"]], "demo", values.model);
  const retriever = await Retriever.open(demo.index, { device });
  const s = await score(engines(retriever, demo.mini), await readQueries(values["demo-queries"]));
  retriever.close();
  result.demo = { chunks: demo.chunks.length, ...embedRate(demo), scores: s };
}
await Deno.remove(work, { recursive: true });
if (values.json) console.log(JSON.stringify(result));
else console.log(JSON.stringify(result, null, 2));
