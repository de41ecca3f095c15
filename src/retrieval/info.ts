/**
 * `index info`: what an index holds and how it was built.
 *
 * @module
 */
import { EMBEDDER_KIND } from "../chunking/embedding.ts";
import { BenteviError, fsError } from "../errors.ts";
import {
  type IndexSettings,
  openIndexDb,
  sqliteError,
  storedInputs,
  storedSettings,
} from "./store.ts";

/** What {@link indexInfo} reports. */
export interface IndexInfo {
  /** The index file. */
  index: string;
  /** `complete`, or `building` after an interrupted build. */
  state: string;
  /** Documents (files) indexed. */
  documents: number;
  /** Chunks. */
  chunks: number;
  /** Chunk sizes summed, in the budget unit. */
  tokens: number;
  /** Characters of chunk text. */
  chars: number;
  /** Chunks with an embedding. */
  embeddings: number;
  /** Documents per kind (`text`, `pdf`…). */
  kinds: Record<string, number>;
  /** Bytes on disk (the database and its WAL). */
  bytesOnDisk: number;
  /** Search available: `bm25`, or `bm25+dense` with a model. */
  search: string;
  /** What it was built with. */
  settings: IndexSettings;
  /** The inputs (files and folders) it indexes. */
  inputs: string[];
  /** When it was last built or updated. */
  updated?: string;
}

/**
 * Reads an index's summary.
 *
 * @example
 * ```ts
 * import { buildIndex } from "./build.ts";
 * import { indexInfo } from "./info.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.txt`, "Um texto curto.");
 * await buildIndex([`${dir}/a.txt`], { index: `${dir}/i.db` });
 * const info = await indexInfo(`${dir}/i.db`);
 * console.log(info.documents, info.chunks, info.search); // 1 1 "bm25"
 * ```
 */
export async function indexInfo(index: string): Promise<IndexInfo> {
  const ix = await openIndexDb(index, { readOnly: true });
  try {
    const settings = storedSettings(ix.meta, index);
    if (!settings) throw new BenteviError(`${index}: the index was never built`);
    const t = ix.db.prepare(
      "SELECT count(*) AS documents, coalesce(sum(chunks), 0) AS chunks, coalesce(sum(tokens), 0) AS tokens, coalesce(sum(chars), 0) AS chars FROM documents",
    ).get() as Record<string, number>;
    const e = ix.db.prepare("SELECT count(*) AS n FROM embeddings").get() as { n: number };
    const kinds: Record<string, number> = {};
    for (
      const r of ix.db.prepare("SELECT kind, count(*) AS n FROM documents GROUP BY kind").all() as {
        kind: string;
        n: number;
      }[]
    ) kinds[r.kind] = Number(r.n);
    let bytesOnDisk = 0;
    for (const p of [index, `${index}-wal`]) {
      try {
        bytesOnDisk += (await Deno.stat(p)).size;
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw fsError(err, p);
      }
    }
    return {
      index,
      state: ix.meta.get("state") ?? "?",
      documents: Number(t.documents),
      chunks: Number(t.chunks),
      tokens: Number(t.tokens),
      chars: Number(t.chars),
      embeddings: Number(e.n),
      kinds,
      bytesOnDisk,
      search: settings.model
        ? settings.model.embedder === EMBEDDER_KIND
          ? `bm25+dense (hybrid by default; ${EMBEDDER_KIND} embeddings)`
          : "bm25 (its embeddings are token-embedding averages of an earlier Bentevi: rebuild with --force for dense search)"
        : "bm25 (no --model: no dense search)",
      settings,
      inputs: storedInputs(ix.meta, index),
      updated: ix.meta.get("updated"),
    };
  } catch (e) {
    throw sqliteError(e, index);
  } finally {
    ix.db.close();
  }
}
