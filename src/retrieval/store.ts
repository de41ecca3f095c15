/**
 * The index file: one SQLite database (Deno's built-in `node:sqlite`, WAL mode) holding the
 * indexed documents, their chunks, an FTS5 table for BM25 and, with a model, the chunks'
 * embeddings. Opening checks that a file is a Bentevi index of this version, so a foreign or
 * corrupt file is a one-line {@link BenteviError}.
 *
 * Tables: `meta(key, value)` (`format`, `version`, `options` JSON, `state` building|complete,
 * `inputs` JSON), `documents(id, path, kind, sha256, size, chunks, tokens, chars, indexed_at)`,
 * `chunks(id, document_id, part, title, char_start, char_end, byte_start, byte_end, tokens,
 * text)`, `chunks_fts(title, body)` (contentless FTS5 over the analyzed terms, rowid = chunk
 * id, `unicode61 remove_diacritics 2`), `embeddings(chunk_id, vector)` (float32 L2-normalised).
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { BenteviError, fsError } from "../errors.ts";

/** The `format` value in `meta`. */
export const INDEX_FORMAT = "bentevi-index";
/** The schema version this code reads and writes. */
export const INDEX_VERSION = 1;

const SCHEMA = `
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE documents(
  id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, sha256 TEXT NOT NULL,
  size INTEGER NOT NULL, chunks INTEGER NOT NULL, tokens INTEGER NOT NULL, chars INTEGER NOT NULL,
  indexed_at TEXT NOT NULL);
CREATE TABLE chunks(
  id INTEGER PRIMARY KEY, document_id INTEGER NOT NULL, part INTEGER NOT NULL, title TEXT,
  char_start INTEGER NOT NULL, char_end INTEGER NOT NULL, byte_start INTEGER NOT NULL,
  byte_end INTEGER NOT NULL, tokens INTEGER NOT NULL, text TEXT NOT NULL);
CREATE INDEX chunks_document ON chunks(document_id);
CREATE VIRTUAL TABLE chunks_fts USING fts5(title, body, content='', contentless_delete=1,
  tokenize='unicode61 remove_diacritics 2');
CREATE TABLE embeddings(chunk_id INTEGER PRIMARY KEY, vector BLOB NOT NULL);
`;

/** What an index was built with: a build with other options refuses to mix into it. */
export interface IndexSettings {
  /** Chunking strategy. */
  strategy: string;
  /** Chunk budget. */
  maxTokens: number;
  /** Preferred minimum chunk size. */
  minTokens: number;
  /** Overlap share. */
  overlap: number;
  /** Budget unit: `chars`, or `tokens` of `tokenizer`. */
  unit: "chars" | "tokens";
  /** The tokenizer that counted tokens: its path and the SHA-256 of its file. */
  tokenizer?: { path: string; sha256: string };
  /** Encoding of text files. */
  encoding: string;
  /** Snowball stemming in the BM25 terms. */
  stem: boolean;
  /**
   * Dense retrieval: the checkpoint, its vector width, the embedder's kind and version
   * (`EMBEDDER_KIND`; absent in indexes of token-embedding averages, which kept a
   * `fingerprint`) and its vector for a fixed text (to tell models apart).
   */
  model?: { path: string; dimension: number; embedder?: string; probe?: number[] };
}

/**
 * Whether two indexes' models are the same: same embedder kind, same width, and probe vectors
 * (unit length) within 1e-3 of each other — CPU and GPU round differently, another checkpoint
 * is far off.
 */
export function sameModel(a: IndexSettings["model"], b: IndexSettings["model"]): boolean {
  if (!a || !b) return a === b;
  if (a.embedder !== b.embedder || a.dimension !== b.dimension) return false;
  if (!a.probe || !b.probe || a.probe.length !== b.probe.length) return false;
  return a.probe.every((x, i) => Math.abs(x - b.probe![i]) <= 1e-3);
}

/** The settings a user compares, as `key=value` words (for messages and `index info`). */
export function describeSettings(s: IndexSettings): string {
  const parts = [
    `strategy=${s.strategy}`,
    `max-${s.unit === "chars" ? "chars" : "tokens"}=${s.maxTokens}`,
    `min-tokens=${s.minTokens}`,
    `overlap=${s.overlap}`,
    `tokenizer=${s.tokenizer ? s.tokenizer.path : "none"}`,
    `encoding=${s.encoding}`,
    `stem=${s.stem}`,
    `model=${s.model ? s.model.path : "none"}`,
  ];
  return parts.join(" ");
}

/** The keys on which two settings differ (tokenizer and model by content, not path). */
export function settingsDiff(a: IndexSettings, b: IndexSettings): string[] {
  const out: string[] = [];
  for (const k of ["strategy", "maxTokens", "minTokens", "overlap", "unit", "encoding", "stem"]) {
    const key = k as keyof IndexSettings;
    if (a[key] !== b[key]) out.push(k);
  }
  if (a.tokenizer?.sha256 !== b.tokenizer?.sha256) out.push("tokenizer");
  if (!sameModel(a.model, b.model)) out.push("model");
  return out;
}

/** An open index. */
export interface IndexDb {
  /** The database. */
  db: DatabaseSync;
  /** Its file. */
  path: string;
}

/** Wraps an SQLite error met on `path` as a one-line {@link BenteviError}. */
export function sqliteError(e: unknown, path: string): Error {
  if (e instanceof BenteviError) return e;
  const err = e as { code?: string; errcode?: number; errstr?: string; message?: string };
  if (err?.code === "ERR_SQLITE_ERROR") {
    const msg = String(err.message ?? err.errstr ?? "").split("\n")[0];
    if (/not a database|malformed|corrupt/i.test(msg)) {
      return new BenteviError(`${path}: corrupt index (${msg}); build it again with --force`);
    }
    if (/no such table|no such column/i.test(msg)) {
      return new BenteviError(
        `${path}: not a Bentevi index (an SQLite database without its tables)`,
      );
    }
    if (/readonly|read-only|unable to open|disk I\/O/i.test(msg)) {
      return new BenteviError(`${path}: cannot open the index (${msg})`);
    }
    return new BenteviError(`${path}: ${msg}`);
  }
  return fsError(e, path);
}

const SQLITE_MAGIC = "SQLite format 3\0";

async function fileHead(path: string): Promise<Uint8Array | undefined> {
  let f: Deno.FsFile;
  try {
    f = await Deno.open(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw fsError(e, path);
  }
  try {
    const buf = new Uint8Array(100);
    let n = 0;
    while (n < buf.length) {
      const r = await f.read(buf.subarray(n));
      if (r === null) break;
      n += r;
    }
    return buf.subarray(0, n);
  } finally {
    f.close();
  }
}

function readMeta(db: DatabaseSync): Map<string, string> {
  const rows = db.prepare("SELECT key, value FROM meta").all() as { key: string; value: string }[];
  return new Map(rows.map((r) => [r.key, r.value]));
}

/**
 * Opens an index. `create`: a missing (or empty) file becomes a new, empty index. A file that
 * is not SQLite, an SQLite database that is not a Bentevi index, another version or a corrupt
 * file is a {@link BenteviError}.
 *
 * @example
 * ```ts
 * import { openIndexDb } from "./store.ts";
 * const path = `${await Deno.makeTempDir()}/i.db`;
 * const { db } = await openIndexDb(path, { create: true });
 * console.log((db.prepare("SELECT value FROM meta WHERE key = 'format'").get() as { value: string }).value); // "bentevi-index"
 * db.close();
 * ```
 */
export async function openIndexDb(
  path: string,
  options: { create?: boolean; readOnly?: boolean } = {},
): Promise<IndexDb & { meta: Map<string, string>; created: boolean }> {
  const head = await fileHead(path);
  if (head === undefined && !options.create) {
    throw new BenteviError(`${path}: no such index (build it with \`bentevi index build\`)`);
  }
  if (head && head.length > 0) {
    const magic = new TextDecoder("latin1").decode(head.subarray(0, 16));
    if (magic !== SQLITE_MAGIC) {
      throw new BenteviError(`${path}: not a Bentevi index (not an SQLite database)`);
    }
  } else if (head && head.length === 0 && !options.create) {
    throw new BenteviError(`${path}: not a Bentevi index (an empty file)`);
  }
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path, { readOnly: options.readOnly ?? false });
  } catch (e) {
    throw sqliteError(e, path);
  }
  try {
    const created = !head || head.length === 0;
    if (created) {
      db.exec("PRAGMA journal_mode = WAL");
      db.exec("BEGIN");
      db.exec(SCHEMA);
      const put = db.prepare("INSERT INTO meta(key, value) VALUES (?, ?)");
      put.run("format", INDEX_FORMAT);
      put.run("version", String(INDEX_VERSION));
      put.run("state", "empty");
      db.exec("COMMIT");
    }
    let meta: Map<string, string>;
    try {
      meta = readMeta(db);
    } catch (e) {
      const msg = String((e as Error).message);
      if (/no such table/.test(msg)) {
        throw new BenteviError(
          `${path}: not a Bentevi index (an SQLite database of something else)`,
        );
      }
      throw e;
    }
    if (meta.get("format") !== INDEX_FORMAT) {
      throw new BenteviError(`${path}: not a Bentevi index (an SQLite database of something else)`);
    }
    const version = Number(meta.get("version"));
    if (version !== INDEX_VERSION) {
      throw new BenteviError(
        `${path}: index format version ${
          meta.get("version")
        }, this Bentevi reads version ${INDEX_VERSION}; build it again with --force`,
      );
    }
    if (!options.readOnly) {
      db.exec("PRAGMA journal_mode = WAL");
      db.exec("PRAGMA synchronous = NORMAL");
      db.exec("PRAGMA cache_size = -65536"); // 64 MiB of page cache for the FTS5 segment merges
    }
    return { db, path, meta, created };
  } catch (e) {
    try {
      db.close();
    } catch { /* already failing */ }
    throw sqliteError(e, path);
  }
}

/** The settings stored in `meta` (undefined before the first build wrote them). */
export function storedSettings(meta: Map<string, string>, path: string): IndexSettings | undefined {
  const raw = meta.get("options");
  if (raw === undefined) return undefined;
  let s: IndexSettings;
  try {
    s = JSON.parse(raw) as IndexSettings;
  } catch {
    throw new BenteviError(`${path}: corrupt index (its options are not JSON)`);
  }
  if (
    typeof s !== "object" || s === null || typeof s.strategy !== "string" ||
    !Number.isInteger(s.maxTokens) || (s.unit !== "chars" && s.unit !== "tokens") ||
    typeof s.encoding !== "string" || typeof s.stem !== "boolean" ||
    (s.model !== undefined &&
      (typeof s.model?.path !== "string" || !Number.isInteger(s.model.dimension) ||
        s.model.dimension < 1))
  ) throw new BenteviError(`${path}: corrupt index (its options are not valid)`);
  return s;
}

/** The inputs (files and folders) stored in `meta`. */
export function storedInputs(meta: Map<string, string>, path: string): string[] {
  try {
    const v = JSON.parse(meta.get("inputs") ?? "[]");
    if (Array.isArray(v) && v.every((x) => typeof x === "string")) return v;
  } catch { /* below */ }
  throw new BenteviError(`${path}: corrupt index (its list of inputs is not valid)`);
}

/** Writes one `meta` value. */
export function setMeta(db: DatabaseSync, key: string, value: string): void {
  db.prepare("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = ?")
    .run(key, value, value);
}

/** Deletes a document and everything of its chunks (FTS rows, embeddings). */
export function deleteDocument(db: DatabaseSync, documentId: number | bigint): void {
  db.prepare(
    "DELETE FROM chunks_fts WHERE rowid IN (SELECT id FROM chunks WHERE document_id = ?)",
  ).run(documentId);
  db.prepare(
    "DELETE FROM embeddings WHERE chunk_id IN (SELECT id FROM chunks WHERE document_id = ?)",
  ).run(documentId);
  db.prepare("DELETE FROM chunks WHERE document_id = ?").run(documentId);
  db.prepare("DELETE FROM documents WHERE id = ?").run(documentId);
}
