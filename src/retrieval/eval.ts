/**
 * Retrieval quality, measured: recall@1/5/10 and MRR of an index over a query set. A query
 * file is JSONL, one `{"query": "…", "relevant": [...]}` per line; a relevant item is a chunk
 * id (a number), a source file (its path, or its file name) or a title (wiki article, page).
 *
 * @module
 */
import { basename, resolve } from "node:path";
import { BenteviError } from "../errors.ts";
import type { Retriever, SearchHit, SearchMode } from "./search.ts";

/** One query of a query set. */
export interface EvalQuery {
  /** The query text. */
  query: string;
  /** What counts as a correct hit: chunk ids, source paths or file names, titles. */
  relevant: (string | number)[];
}

/** What {@link evaluateRetrieval} reports. */
export interface EvalReport {
  /** Queries evaluated. */
  queries: number;
  /** The ranking used. */
  mode: SearchMode;
  /** Share of relevant items found in the top 1 / 5 / 10 (per query, then averaged). */
  recall: { 1: number; 5: number; 10: number };
  /** Mean reciprocal rank of the first relevant hit (0 when none in the top 10). */
  mrr: number;
  /** Median and 95th-percentile query time, milliseconds. */
  latencyMs: { p50: number; p95: number };
}

/**
 * Reads a query file (JSONL). Bad lines are one-line errors naming the file and line.
 *
 * @example
 * ```ts
 * import { readQueries } from "./eval.ts";
 * const path = await Deno.makeTempFile({ suffix: ".jsonl" });
 * await Deno.writeTextFile(path, '{"query":"maior roedor","relevant":["Capivara"]}\n');
 * console.log((await readQueries(path))[0].relevant); // ["Capivara"]
 * ```
 */
export async function readQueries(path: string): Promise<EvalQuery[]> {
  const out: EvalQuery[] = [];
  const lines = (await Deno.readTextFile(path).catch((e) => {
    throw new BenteviError(`${path}: cannot read (${(e as Error).message})`);
  })).split("\n");
  lines.forEach((line, i) => {
    if (line.trim() === "") return;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch {
      throw new BenteviError(`${path}: line ${i + 1} is not valid JSON`);
    }
    const q = obj as { query?: unknown; relevant?: unknown };
    if (
      typeof q?.query !== "string" || !Array.isArray(q.relevant) || q.relevant.length === 0 ||
      !q.relevant.every((r) => typeof r === "string" || typeof r === "number")
    ) {
      throw new BenteviError(
        `${path}: line ${i + 1} needs {"query": "…", "relevant": [chunk ids, sources or titles]}`,
      );
    }
    out.push({ query: q.query, relevant: q.relevant as (string | number)[] });
  });
  if (out.length === 0) throw new BenteviError(`${path}: no queries`);
  return out;
}

/** Which relevant items a hit matches. */
function matches(hit: SearchHit, item: string | number): boolean {
  if (typeof item === "number") return hit.id === item;
  return hit.source.path === resolve(item) || basename(hit.source.path) === item ||
    hit.source.title === item;
}

/**
 * Runs every query (top 10) and scores the rankings.
 *
 * @example
 * ```ts
 * import { buildIndex } from "./build.ts";
 * import { Retriever } from "./search.ts";
 * import { evaluateRetrieval } from "./eval.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.txt`, "A capivara é o maior roedor do mundo.");
 * await Deno.writeTextFile(`${dir}/b.txt`, "O tucano tem um bico enorme.");
 * await buildIndex([dir], { index: `${dir}/i.db` });
 * const r = await Retriever.open(`${dir}/i.db`);
 * console.log((await evaluateRetrieval(r, [{ query: "bico", relevant: ["b.txt"] }])).mrr); // 1
 * r.close();
 * ```
 */
export async function evaluateRetrieval(
  retriever: Retriever,
  queries: EvalQuery[],
  options: { mode?: SearchMode } = {},
): Promise<EvalReport> {
  const mode = options.mode ?? (retriever.hasEmbeddings ? "hybrid" : "bm25");
  const recall = { 1: 0, 5: 0, 10: 0 };
  let mrr = 0;
  const times: number[] = [];
  for (const q of queries) {
    const t = performance.now();
    let hits: SearchHit[];
    try {
      hits = await retriever.search(q.query, { k: 10, mode });
    } catch (e) {
      if (e instanceof BenteviError && /stop words|empty query/.test(e.message)) hits = [];
      else throw e;
    }
    times.push(performance.now() - t);
    for (const k of [1, 5, 10] as const) {
      const top = hits.slice(0, k);
      const found = q.relevant.filter((item) => top.some((h) => matches(h, item))).length;
      recall[k] += found / q.relevant.length;
    }
    const first = hits.findIndex((h) => q.relevant.some((item) => matches(h, item)));
    if (first >= 0) mrr += 1 / (first + 1);
  }
  const n = queries.length;
  times.sort((a, b) => a - b);
  const pct = (p: number) => times[Math.min(n - 1, Math.floor(p * n))];
  const r4 = (x: number) => Math.round(x * 10000) / 10000;
  return {
    queries: n,
    mode,
    recall: { 1: r4(recall[1] / n), 5: r4(recall[5] / n), 10: r4(recall[10] / n) },
    mrr: r4(mrr / n),
    latencyMs: { p50: r4(pct(0.5)), p95: r4(pct(0.95)) },
  };
}
