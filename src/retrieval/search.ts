/**
 * Searching an index: BM25 over the FTS5 table (query analysed like the chunks: accents
 * folded, stop words dropped), cosine over the stored embeddings when the index has a model,
 * and hybrid ranking by reciprocal-rank fusion of the two lists. Hits carry the chunk text,
 * its source (file, title, JSONL line or PDF page) and offsets that re-read it from the source.
 *
 * @module
 */
import { relative } from "node:path";
import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { ModelEmbedder } from "../chunking/embedding.ts";
import { BenteviError } from "../errors.ts";
import { analyzeTerms, ftsQuery } from "./analyzer.ts";
import type { DeviceChoice } from "../backend/mod.ts";
import { toolsOfIndex } from "./build.ts";
import { type IndexSettings, openIndexDb, sqliteError, storedSettings } from "./store.ts";

/** How hits are ranked. */
export type SearchMode = "bm25" | "dense" | "hybrid";

/** The modes. */
export const SEARCH_MODES: readonly SearchMode[] = ["bm25", "dense", "hybrid"];

/** One search result. */
export interface SearchHit {
  /** 1-based rank. */
  rank: number;
  /** The chunk's id in the index. */
  id: number;
  /** Score: BM25 (higher is better), cosine (dense) or the fused RRF score (hybrid). */
  score: number;
  /** The chunk's text. */
  text: string;
  /** Where it comes from. */
  source: {
    /** The file (absolute path as indexed). */
    path: string;
    /** What kind of file. */
    kind: string;
    /** Article title (wiki shards), page title (HTML), first heading (Markdown). */
    title?: string;
    /** JSONL: the record's line; PDF: the page. */
    line?: number;
    /** PDF: the 1-based page. */
    page?: number;
  };
  /** UTF-16 offsets into the section's text (the file's text; a JSONL record's `"text"`; a PDF page's text). */
  start: number;
  /** End (UTF-16, exclusive). */
  end: number;
  /** Byte offsets of the same span (into the file itself for text and Markdown files). */
  byteStart: number;
  /** End (bytes, exclusive). */
  byteEnd: number;
  /** Size in the index's budget unit. */
  tokens: number;
}

/** Options of {@link Retriever.search}. */
export interface SearchOptions {
  /** How many hits (default 5). */
  k?: number;
  /** Ranking (default `hybrid` when the index has embeddings, else `bm25`). */
  mode?: SearchMode;
}

/** RRF's rank constant (Cormack et al. 2009). */
export const RRF_K = 60;

interface ChunkRow {
  id: number;
  path: string;
  kind: string;
  part: number;
  title: string | null;
  char_start: number;
  char_end: number;
  byte_start: number;
  byte_end: number;
  tokens: number;
  text: string;
}

/**
 * An open index to search: keeps the database (and, for dense search, the model and the
 * vectors) open across queries.
 *
 * @example
 * ```ts
 * import { buildIndex } from "./build.ts";
 * import { Retriever } from "./search.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.txt`, "A capivara é o maior roedor do mundo.\n\nO tucano tem bico grande.");
 * await buildIndex([`${dir}/a.txt`], { index: `${dir}/i.db`, maxTokens: 40 });
 * const r = await Retriever.open(`${dir}/i.db`);
 * console.log((await r.search("maior roedor"))[0].text); // "A capivara é o maior roedor do mundo.\n\n"
 * r.close();
 * ```
 */
export class Retriever {
  /** The index file. */
  readonly path: string;
  /** What it was built with. */
  readonly settings: IndexSettings;
  /** Notices about the index (an interrupted build), for the caller to show. */
  readonly notices: string[];
  private readonly db: DatabaseSync;
  private embedder?: ModelEmbedder;
  private vectors?: { ids: Int32Array; data: Float32Array; dim: number };

  private constructor(
    path: string,
    db: DatabaseSync,
    settings: IndexSettings,
    notices: string[],
    embedder?: ModelEmbedder,
  ) {
    this.path = path;
    this.db = db;
    this.settings = settings;
    this.notices = notices;
    this.embedder = embedder;
  }

  /**
   * Opens an index for searching. When the index has a model (and `loadModel` is not false)
   * the model is loaded on `device` (default `"auto"`) and checked against the one the index
   * was built with.
   */
  static async open(
    path: string,
    options: { loadModel?: boolean; device?: DeviceChoice } = {},
  ): Promise<Retriever> {
    const ix = await openIndexDb(path, { readOnly: true });
    try {
      const settings = storedSettings(ix.meta, path);
      if (!settings) {
        throw new BenteviError(`${path}: the index was never built (run \`bentevi index build\`)`);
      }
      const notices: string[] = [];
      if (ix.meta.get("state") !== "complete") {
        notices.push(
          `${path}: the index is incomplete (a build was interrupted); run the same \`index build\` or \`index update\` to finish it`,
        );
      }
      let embedder: ModelEmbedder | undefined;
      if (settings.model && (options.loadModel ?? true)) {
        embedder = (await toolsOfIndex(settings, path, { device: options.device })).embedder;
      }
      return new Retriever(path, ix.db, settings, notices, embedder);
    } catch (e) {
      ix.db.close();
      throw e;
    }
  }

  /** Whether dense (and hybrid) search is possible. */
  get hasEmbeddings(): boolean {
    return this.settings.model !== undefined;
  }

  /** Closes the database and frees the model. */
  close(): void {
    this.db.close();
    this.embedder?.close();
  }

  /** The terms a query searches for (after folding, stop words and stemming). */
  queryTerms(query: string): string[] {
    return analyzeTerms(query, { stem: this.settings.stem });
  }

  private checkQuery(query: string): string {
    if (query.trim() === "") throw new BenteviError("empty query: type some words to search for");
    const match = ftsQuery(query, { stem: this.settings.stem });
    if (!match) {
      throw new BenteviError(
        `the query "${query}" has only stop words (words like "o", "de", "que" are not indexed); add a word that says what you look for`,
      );
    }
    return match;
  }

  private statements = new Map<string, StatementSync>();

  private stmt(sql: string): StatementSync {
    let st = this.statements.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.statements.set(sql, st);
    }
    return st;
  }

  /** Chunk ids ranked by BM25 (best first), with their scores. */
  bm25Ids(query: string, n: number): { id: number; score: number }[] {
    const match = this.checkQuery(query);
    try {
      const rows = this.stmt(
        "SELECT rowid AS id, bm25(chunks_fts, 2.0, 1.0) AS s FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY s LIMIT ?",
      ).all(match, n) as { id: number; s: number }[];
      return rows.map((r) => ({ id: Number(r.id), score: -r.s }));
    } catch (e) {
      throw sqliteError(e, this.path);
    }
  }

  private loadVectors(): { ids: Int32Array; data: Float32Array; dim: number } {
    if (this.vectors) return this.vectors;
    const dim = this.settings.model!.dimension;
    try {
      const count = Number(
        (this.db.prepare("SELECT count(*) AS n FROM embeddings").get() as { n: number }).n,
      );
      const ids = new Int32Array(count);
      const data = new Float32Array(count * dim);
      let i = 0;
      for (
        const r of this.db.prepare("SELECT chunk_id, vector FROM embeddings ORDER BY chunk_id")
          .iterate() as Iterable<{ chunk_id: number; vector: Uint8Array }>
      ) {
        if (i >= count || r.vector.byteLength !== dim * 4) {
          throw new BenteviError(`${this.path}: corrupt index (an embedding of the wrong size)`);
        }
        ids[i] = Number(r.chunk_id);
        data.set(new Float32Array(r.vector.slice().buffer), i * dim);
        i++;
      }
      this.vectors = { ids: ids.subarray(0, i), data, dim };
      return this.vectors;
    } catch (e) {
      throw sqliteError(e, this.path);
    }
  }

  /** Chunk ids ranked by cosine to the query's embedding (best first). */
  async denseIds(query: string, n: number): Promise<{ id: number; score: number }[]> {
    this.checkQuery(query);
    if (!this.hasEmbeddings) {
      throw new BenteviError(
        `${this.path}: the index has no embeddings (BM25 only); build it with --model CHECKPOINT for dense or hybrid search`,
      );
    }
    if (!this.embedder) throw new BenteviError(`${this.path}: the index's model was not loaded`);
    const [q] = await this.embedder.embed([query]);
    const { ids, data, dim } = this.loadVectors();
    const scores = new Float32Array(ids.length);
    for (let i = 0; i < ids.length; i++) {
      let s = 0;
      const o = i * dim;
      for (let j = 0; j < dim; j++) s += data[o + j] * q[j];
      scores[i] = s;
    }
    const order = Array.from(ids.keys()).sort((a, b) => scores[b] - scores[a]).slice(0, n);
    return order.map((i) => ({ id: ids[i], score: scores[i] }));
  }

  /** Ranked chunk ids and scores for `query`. */
  async rank(query: string, options: SearchOptions = {}): Promise<{ id: number; score: number }[]> {
    const k = options.k ?? 5;
    if (!Number.isInteger(k) || k < 1) throw new BenteviError(`--k must be at least 1, got ${k}`);
    const mode = options.mode ?? (this.hasEmbeddings ? "hybrid" : "bm25");
    if (mode === "bm25") return this.bm25Ids(query, k);
    if (mode === "dense") return this.denseIds(query, k);
    const depth = Math.max(50, k * 5);
    const fused = new Map<number, number>();
    for (const list of [this.bm25Ids(query, depth), await this.denseIds(query, depth)]) {
      list.forEach((h, i) => fused.set(h.id, (fused.get(h.id) ?? 0) + 1 / (RRF_K + i + 1)));
    }
    return [...fused].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, k)
      .map(([id, score]) => ({ id, score }));
  }

  /** The top chunks for `query`, with their text, source and offsets. */
  async search(query: string, options: SearchOptions = {}): Promise<SearchHit[]> {
    const ranked = await this.rank(query, options);
    const hits: SearchHit[] = [];
    try {
      const get = this.stmt(
        "SELECT c.id, d.path, d.kind, c.part, c.title, c.char_start, c.char_end, c.byte_start, c.byte_end, c.tokens, c.text FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.id = ?",
      );
      for (const { id, score } of ranked) {
        const r = get.get(id) as ChunkRow | undefined;
        if (!r) continue;
        const source: SearchHit["source"] = { path: r.path, kind: r.kind };
        if (r.title !== null) source.title = r.title;
        if (r.kind === "jsonl") source.line = Number(r.part);
        if (r.kind === "pdf") source.page = Number(r.part);
        hits.push({
          rank: hits.length + 1,
          id: Number(r.id),
          score,
          text: r.text,
          source,
          start: Number(r.char_start),
          end: Number(r.char_end),
          byteStart: Number(r.byte_start),
          byteEnd: Number(r.byte_end),
          tokens: Number(r.tokens),
        });
      }
    } catch (e) {
      throw sqliteError(e, this.path);
    }
    return hits;
  }
}

/**
 * The top `k` passages of an index for a query (opens and closes the index; keep a
 * {@link Retriever} open for many queries).
 *
 * @example
 * ```ts
 * import { buildIndex, retrieve } from "../../mod.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/lua.txt`, "A Lua é o único satélite natural da Terra.");
 * await buildIndex([`${dir}/lua.txt`], { index: `${dir}/i.db` });
 * const [hit] = await retrieve(`${dir}/i.db`, "satelite natural", 3);
 * console.log(hit.text, hit.source.path, hit.start, hit.end);
 * ```
 */
export async function retrieve(
  index: string,
  query: string,
  k = 5,
  options: { mode?: SearchMode; device?: DeviceChoice } = {},
): Promise<SearchHit[]> {
  const r = await Retriever.open(index, {
    loadModel: options.mode !== "bm25",
    device: options.device,
  });
  try {
    return await r.search(query, {
      k,
      mode: options.mode ?? (r.hasEmbeddings ? "hybrid" : "bm25"),
    });
  } finally {
    r.close();
  }
}

/**
 * How a hit's source is shown: `file — title (line N | page N, chars A–B)`, the file relative
 * to the working directory when it lies under it.
 */
export function formatSource(hit: SearchHit, cwd: string = Deno.cwd()): string {
  const rel = relative(cwd, hit.source.path);
  const file = rel.startsWith("..") ? hit.source.path : rel;
  const where = hit.source.page !== undefined
    ? `page ${hit.source.page}, `
    : hit.source.line !== undefined
    ? `line ${hit.source.line}, `
    : "";
  return `${file}${
    hit.source.title ? ` — ${hit.source.title}` : ""
  } (${where}chars ${hit.start}–${hit.end})`;
}
