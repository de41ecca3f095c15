/**
 * Building and updating an index: every input file is hashed (SHA-256, streamed), read into
 * sections ({@link readSections}), chunked with the project's chunkers (streaming: a text file
 * is never held whole), and written — its document row, chunks, BM25 terms and, with a model,
 * embeddings — in **one transaction per file**. So an interrupted build (Ctrl-C, kill -9, a
 * crash) loses only the file it was in (SQLite rolls the open transaction back) and leaves the
 * index marked `building`; running the same build (or `index update`) again resumes: files
 * already indexed with the same hash are skipped. A file that cannot be read is counted and
 * skipped, never aborting the build.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { resolve } from "node:path";
import type { DatabaseSync } from "node:sqlite";
import { chunkStream } from "../chunking/engine.ts";
import { EMBEDDER_KIND, type ModelEmbedder, modelEmbedder } from "../chunking/embedding.ts";
import type { DeviceChoice } from "../backend/mod.ts";
import {
  charCounter,
  resolveOptions,
  type Strategy,
  type TokenCounter,
} from "../chunking/types.ts";
import { BenteviError, fsError } from "../errors.ts";
import { readFileChunks } from "../io/read_chunks.ts";
import { type Progress, silentProgress } from "../progress.ts";
import { parseEncoding } from "../text/encoding.ts";
import { listInputFiles } from "../text/inputs.ts";
import { Tokenizer } from "../tokenizer/tokenizer.ts";
import { analyzeTerms } from "./analyzer.ts";
import { kindOf, readSections, sourceKind } from "./ingest.ts";
import {
  deleteDocument,
  describeSettings,
  type IndexSettings,
  openIndexDb,
  sameModel,
  setMeta,
  settingsDiff,
  sqliteError,
  storedInputs,
  storedSettings,
} from "./store.ts";

/** Options of {@link buildIndex}. */
export interface BuildIndexOptions {
  /** The index file (created, or resumed/extended when it exists with the same settings). */
  index: string;
  /** Chunking strategy (default `recursive`). */
  strategy?: Strategy;
  /** Chunk budget: tokens of `tokenizer` (default 256), or characters without one (default 1000). */
  maxTokens?: number;
  /** Preferred minimum chunk size. */
  minTokens?: number;
  /** Overlap share, 0 to 0.5. */
  overlap?: number;
  /** A `tokenizer.json` that counts tokens (default: the model's with `model`, else characters). */
  tokenizer?: string;
  /** A checkpoint whose embeddings give each chunk a vector (dense and hybrid search). */
  model?: string;
  /** Where the model computes the embeddings (default `"auto"`). */
  device?: DeviceChoice;
  /** Encoding of text, Markdown and HTML files (default utf-8). */
  encoding?: string;
  /** Snowball Portuguese stemming of the BM25 terms (default false; see docs/retrieval.md). */
  stem?: boolean;
  /** Delete an existing index file first (a rebuild with other settings). */
  force?: boolean;
  /** Progress reports (default: none). */
  progress?: Progress;
  /** Stops the build between chunks: the file in progress is rolled back. */
  signal?: AbortSignal;
  /** Called for each skipped file, with why. */
  onSkip?: (path: string, reason: string) => void;
}

/** What a build or update did. */
export interface BuildReport {
  /** The index file. */
  index: string;
  /** Files found in the inputs (of supported kinds). */
  files: number;
  /** Files (re-)indexed now. */
  indexed: number;
  /** Files skipped because their hash had not changed. */
  unchanged: number;
  /** Documents removed (their files are gone). */
  removed: number;
  /** Files that could not be read, with why. */
  skipped: { path: string; reason: string }[];
  /** Files in folders with an extension the index does not read. */
  unsupported: number;
  /** Chunks written now. */
  chunks: number;
  /** Bytes of the files (re-)indexed now. */
  bytes: number;
  /** Seconds the build took. */
  seconds: number;
  /** Documents and chunks in the index afterwards. */
  totals: { documents: number; chunks: number };
  /** The settings of the index. */
  settings: IndexSettings;
}

/** SHA-256 of a string, hex. */
function sha256Text(s: string | Uint8Array): string {
  return createHash("sha256").update(s).digest("hex");
}

/** SHA-256 of a file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const h = createHash("sha256");
  try {
    for await (const b of readFileChunks(path, 1 << 20)) h.update(b);
  } catch (e) {
    throw fsError(e, path);
  }
  return h.digest("hex");
}

/** A fingerprint of a tokenizer's content (its `tokenizer.json` form). */
export function tokenizerFingerprint(tok: Tokenizer): string {
  return sha256Text(JSON.stringify(tok.toJSON()));
}

const PROBE = "Bentevi: o índice de referência, 0123456789. Olá!";

/**
 * An embedder's vector for a fixed text, stored with the index to tell models apart: compared
 * with a tolerance ({@link sameModel}), since CPU and GPU round differently.
 */
export async function embedderProbe(e: ModelEmbedder): Promise<number[]> {
  return Array.from((await e.embed([PROBE]))[0], (x) => Math.round(x * 1e6) / 1e6);
}

/** Chunks embedded per model call while building (one batched prefill). */
export const EMBED_BATCH = 64;

/** The tools a build needs, loaded from the settings. */
export interface Tools {
  /** Counts the chunk budget. */
  counter: TokenCounter;
  /** The model's embedder (free it with `close`). */
  embedder?: ModelEmbedder;
}

async function toolsFor(
  options: { tokenizer?: string; model?: string; device?: DeviceChoice },
): Promise<
  { tools: Tools; tokenizer?: IndexSettings["tokenizer"]; model?: IndexSettings["model"] }
> {
  const embedder = options.model
    ? await modelEmbedder(options.model, {
      tokenizerPath: options.tokenizer,
      device: options.device,
    })
    : undefined;
  const tok = options.tokenizer
    ? (embedder ? embedder.tokenizer : await Tokenizer.fromFile(options.tokenizer))
    : embedder?.tokenizer;
  return {
    tools: { counter: tok ?? charCounter, embedder },
    tokenizer: tok
      ? {
        path: resolve(options.tokenizer ?? `${options.model}/tokenizer.json`),
        sha256: tokenizerFingerprint(tok),
      }
      : undefined,
    model: embedder
      ? {
        path: resolve(options.model!),
        dimension: embedder.dimension,
        embedder: embedder.kind,
        probe: await embedderProbe(embedder),
      }
      : undefined,
  };
}

/**
 * Refuses an index whose vectors another embedder made (an index of an earlier Bentevi holds
 * token-embedding averages): its vectors and a query's would not be comparable.
 */
export function checkEmbedderKind(settings: IndexSettings, index: string): void {
  const kind = settings.model?.embedder;
  if (settings.model && kind !== EMBEDDER_KIND) {
    throw new BenteviError(
      `${index}: its embeddings were made by ${
        kind ? `the "${kind}"` : "the token-embedding-average"
      } embedder of an earlier Bentevi, this one embeds with "${EMBEDDER_KIND}" (mean-pooled last hidden state); rebuild it with --force (or search it with --mode bm25)`,
    );
  }
}

/**
 * The tools of an existing index's settings, checking that its tokenizer and model are still
 * the ones it was built with (else a one-line error).
 */
export async function toolsOfIndex(
  settings: IndexSettings,
  index: string,
  options: { device?: DeviceChoice; loadModel?: boolean } = {},
): Promise<Tools> {
  const loadModel = options.loadModel ?? true;
  if (loadModel) checkEmbedderKind(settings, index);
  const model = loadModel ? settings.model?.path : undefined;
  const tokenizer = settings.tokenizer?.path;
  const loaded = await toolsFor({
    model,
    tokenizer: model && tokenizer === resolve(`${model}/tokenizer.json`) ? undefined : tokenizer,
    device: options.device,
  });
  if (settings.tokenizer && loaded.tokenizer?.sha256 !== settings.tokenizer.sha256) {
    loaded.tools.embedder?.close();
    throw new BenteviError(
      `${index}: built with another tokenizer (${settings.tokenizer.path} has changed); rebuild with --force`,
    );
  }
  if (loadModel && settings.model && !sameModel(loaded.model, settings.model)) {
    loaded.tools.embedder?.close();
    throw new BenteviError(
      `${index}: built with another model (${settings.model.path} has changed); rebuild with --force`,
    );
  }
  return loaded.tools;
}

/**
 * The index must not be one of the input files (by device and inode, so through links and other
 * spellings): `--force` would delete it, and a build would read its own database.
 */
async function refuseIndexAmongInputs(index: string, inputs: string[]): Promise<void> {
  let id: string;
  try {
    const s = await Deno.stat(index);
    id = `${s.dev}:${s.ino}`;
  } catch {
    return; // a new index
  }
  for (const input of inputs) {
    try {
      const s = await Deno.stat(input);
      if (`${s.dev}:${s.ino}` === id) {
        throw new BenteviError(
          `${index}: --index is the input ${input}; building would overwrite it — choose another --index`,
        );
      }
    } catch (e) {
      if (e instanceof BenteviError) throw e;
    }
  }
}

async function removeIndexFiles(path: string): Promise<void> {
  for (const p of [path, `${path}-wal`, `${path}-shm`, `${path}-journal`]) {
    try {
      await Deno.remove(p);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw fsError(e, p);
    }
  }
}

/**
 * Builds an index of `inputs` (files and folders) into `options.index`. On an existing index
 * built with the same settings, it resumes or extends it (unchanged files are skipped); with
 * other settings it refuses unless `force`.
 *
 * @example
 * ```ts
 * import { buildIndex } from "./build.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/capivara.txt`, "A capivara é o maior roedor do mundo.");
 * const r = await buildIndex([dir], { index: `${dir}/i.db` });
 * console.log(r.indexed, r.chunks); // 1 1
 * ```
 */
export async function buildIndex(
  inputs: string[],
  options: BuildIndexOptions,
): Promise<BuildReport> {
  const t0 = performance.now();
  if (inputs.length === 0) throw new BenteviError("no inputs given: name files or folders");
  parseEncoding(options.encoding ?? "utf-8"); // a bad encoding fails before the model loads
  const loaded = await toolsFor(options);
  try {
    return await buildWith(inputs, options, loaded, t0);
  } finally {
    loaded.tools.embedder?.close();
  }
}

async function buildWith(
  inputs: string[],
  options: BuildIndexOptions,
  loaded: Awaited<ReturnType<typeof toolsFor>>,
  t0: number,
): Promise<BuildReport> {
  const encoding = parseEncoding(options.encoding ?? "utf-8");
  const unit = loaded.tools.counter === charCounter ? "chars" : "tokens";
  const chunking = resolveOptions({
    strategy: options.strategy,
    maxTokens: options.maxTokens ?? (unit === "chars" ? 1000 : 256),
    minTokens: options.minTokens,
    overlap: options.overlap,
    counter: loaded.tools.counter,
  });
  const settings: IndexSettings = {
    strategy: chunking.strategy,
    maxTokens: chunking.maxTokens,
    minTokens: chunking.minTokens,
    overlap: chunking.overlap,
    unit,
    tokenizer: loaded.tokenizer,
    encoding,
    stem: options.stem ?? false,
    model: loaded.model,
  };
  await refuseIndexAmongInputs(options.index, inputs);
  if (options.force) await removeIndexFiles(options.index);
  const ix = await openIndexDb(options.index, { create: true });
  try {
    const old = storedSettings(ix.meta, options.index);
    if (old?.model && settings.model) checkEmbedderKind(old, options.index);
    if (old) {
      const diff = settingsDiff(old, settings);
      if (diff.length) {
        throw new BenteviError(
          `${options.index}: built with other settings (${diff.join(", ")} differ; it has ${
            describeSettings(old)
          }); pass the same options, --force to rebuild it, or another --index`,
        );
      }
    }
    const roots = new Set<string>(storedInputs(ix.meta, options.index));
    for (const i of inputs) roots.add(resolve(i));
    return await runIndexing(ix.db, options.index, settings, [...roots], loaded.tools, {
      ...options,
      t0,
    });
  } finally {
    ix.db.close();
  }
}

/** Options of {@link updateIndex}. */
export interface UpdateIndexOptions {
  /** Progress reports. */
  progress?: Progress;
  /** Stops the update between chunks (the file in progress is rolled back). */
  signal?: AbortSignal;
  /** Called for each skipped file. */
  onSkip?: (path: string, reason: string) => void;
  /** Where the index's model computes the embeddings (default `"auto"`). */
  device?: DeviceChoice;
}

/**
 * Brings an index up to date with its inputs: files whose content changed (by SHA-256) are
 * re-indexed, new files added, documents whose files are gone removed — with the settings the
 * index was built with (its tokenizer and model must be unchanged).
 *
 * @example
 * ```ts
 * import { buildIndex, updateIndex } from "./build.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.mkdir(`${dir}/docs`);
 * await Deno.writeTextFile(`${dir}/docs/a.txt`, "Primeiro texto.");
 * await buildIndex([`${dir}/docs`], { index: `${dir}/i.db` });
 * await Deno.writeTextFile(`${dir}/docs/b.txt`, "Segundo texto.");
 * const r = await updateIndex(`${dir}/i.db`);
 * console.log(r.indexed, r.unchanged); // 1 1
 * ```
 */
export async function updateIndex(
  index: string,
  options: UpdateIndexOptions = {},
): Promise<BuildReport> {
  const t0 = performance.now();
  const ix = await openIndexDb(index);
  try {
    const settings = storedSettings(ix.meta, index);
    if (!settings) {
      throw new BenteviError(`${index}: the index was never built (run \`bentevi index build\`)`);
    }
    const tools = await toolsOfIndex(settings, index, { device: options.device });
    try {
      const roots = storedInputs(ix.meta, index);
      return await runIndexing(ix.db, index, settings, roots, tools, { ...options, t0 });
    } finally {
      tools.embedder?.close();
    }
  } finally {
    ix.db.close();
  }
}

interface Listed {
  path: string;
  size: number;
}

/** The supported files under the roots; missing roots and unsupported files counted. */
async function listRoots(
  roots: string[],
  index: string,
): Promise<{ files: Listed[]; unsupported: number }> {
  const files: Listed[] = [];
  // The index's own files (in an input folder) are never documents.
  const own = resolve(index);
  const seen = new Set<string>([own, `${own}-wal`, `${own}-shm`, `${own}-journal`]);
  let unsupported = 0;
  for (const root of roots) {
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(root);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) continue; // its documents are removed
      throw fsError(e, root);
    }
    let listed;
    try {
      listed = await listInputFiles([root]);
    } catch (e) {
      if (info.isDirectory && e instanceof BenteviError && /no input files/.test(e.message)) {
        continue;
      }
      throw e;
    }
    for (const f of listed) {
      const path = resolve(f.path);
      if (seen.has(path)) continue;
      seen.add(path);
      if (info.isDirectory && !sourceKind(path)) {
        unsupported++;
        continue;
      }
      files.push({ path, size: f.size });
    }
  }
  return { files, unsupported };
}

function utf8Length(s: string, from = 0, to = s.length): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n++;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < to) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

async function* asStream(text: string | AsyncIterable<string>): AsyncGenerator<string> {
  if (typeof text === "string") yield text;
  else yield* text;
}

async function runIndexing(
  db: DatabaseSync,
  index: string,
  settings: IndexSettings,
  roots: string[],
  tools: Tools,
  options: UpdateIndexOptions & { t0: number },
): Promise<BuildReport> {
  const progress = options.progress ?? silentProgress;
  const fail = (e: unknown) => sqliteError(e, index);
  const chunking = resolveOptions({
    strategy: settings.strategy as Strategy,
    maxTokens: settings.maxTokens,
    minTokens: settings.minTokens,
    overlap: settings.overlap,
    counter: tools.counter,
  });
  const encoding = parseEncoding(settings.encoding);
  try {
    db.exec("BEGIN");
    setMeta(db, "options", JSON.stringify(settings));
    setMeta(db, "inputs", JSON.stringify(roots));
    setMeta(db, "state", "building");
    db.exec("COMMIT");
  } catch (e) {
    throw fail(e);
  }
  const { files, unsupported } = await listRoots(roots, index);
  const report: BuildReport = {
    index,
    files: files.length,
    indexed: 0,
    unchanged: 0,
    removed: 0,
    skipped: [],
    unsupported,
    chunks: 0,
    bytes: 0,
    seconds: 0,
    totals: { documents: 0, chunks: 0 },
    settings,
  };
  const docs = new Map<string, { id: number; sha256: string }>();
  for (
    const r of db.prepare("SELECT id, path, sha256 FROM documents").all() as {
      id: number;
      path: string;
      sha256: string;
    }[]
  ) docs.set(r.path, { id: r.id, sha256: r.sha256 });
  // Documents whose files are gone.
  const listed = new Set(files.map((f) => f.path));
  db.exec("BEGIN");
  for (const [path, d] of docs) {
    if (!listed.has(path)) {
      deleteDocument(db, d.id);
      report.removed++;
    }
  }
  db.exec("COMMIT");

  const insDoc = db.prepare(
    "INSERT INTO documents(path, kind, sha256, size, chunks, tokens, chars, indexed_at) VALUES (?, ?, ?, ?, 0, 0, 0, ?)",
  );
  const setDoc = db.prepare("UPDATE documents SET chunks = ?, tokens = ?, chars = ? WHERE id = ?");
  const insChunk = db.prepare(
    "INSERT INTO chunks(document_id, part, title, char_start, char_end, byte_start, byte_end, tokens, text) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
  );
  const insFts = db.prepare("INSERT INTO chunks_fts(rowid, title, body) VALUES (?, ?, ?)");
  const insVec = db.prepare("INSERT INTO embeddings(chunk_id, vector) VALUES (?, ?)");
  const stem = { stem: settings.stem };
  const titleTerms = new Map<string, string>();
  // Chunks waiting for their vectors (inserted in the same transaction, a batch at a time).
  const toEmbed: { id: number | bigint; text: string }[] = [];
  const embedQueued = async () => {
    if (!tools.embedder || toEmbed.length === 0) return;
    const vectors = await tools.embedder.embed(toEmbed.map((q) => q.text));
    toEmbed.forEach((q, i) => {
      const v = vectors[i];
      insVec.run(q.id, new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
    });
    toEmbed.length = 0;
  };

  const totalBytes = files.reduce((a, f) => a + f.size, 0);
  let doneBytes = 0;
  progress.start(`indexing ${files.length} files`, totalBytes / 1e6, "MB");
  let lastTurn = performance.now();
  for (const file of files) {
    if (options.signal?.aborted) break;
    const sha = await sha256File(file.path);
    const prev = docs.get(file.path);
    if (prev && prev.sha256 === sha) {
      report.unchanged++;
      doneBytes += file.size;
      progress.update(doneBytes / 1e6);
      continue;
    }
    let fileBytes = 0;
    let chunks = 0, tokens = 0, chars = 0;
    toEmbed.length = 0;
    try {
      db.exec("BEGIN");
      if (prev) deleteDocument(db, prev.id);
      const docId = insDoc.run(
        file.path,
        kindOf(file.path),
        sha,
        file.size,
        new Date().toISOString(),
      ).lastInsertRowid;
      const onBytes = (n: number) => {
        fileBytes += n;
        progress.update(
          (doneBytes + Math.min(fileBytes, file.size)) / 1e6,
          `${report.chunks + chunks} chunks`,
        );
      };
      for await (const section of readSections(file.path, { encoding, onBytes })) {
        const title = section.title ?? null;
        let tTerms = title === null ? "" : titleTerms.get(title);
        if (tTerms === undefined) {
          tTerms = analyzeTerms(title!, stem).join(" ");
          if (titleTerms.size > 10_000) titleTerms.clear();
          titleTerms.set(title!, tTerms);
        }
        const byteLen = section.bytes === "utf8"
          ? utf8Length
          : (_s: string, from = 0, to = _s.length) => to - from;
        // Byte offsets, carried from chunk to chunk (chunks follow each other; with overlap a
        // chunk starts inside the one before).
        let prevStart = 0, prevByte = section.byteBase, prevText = "";
        for await (const c of chunkStream(asStream(section.text), chunking)) {
          // Chunking a section runs on promises that are already settled: without a turn of
          // the event loop now and then, a SIGINT/SIGTERM would be seen only after the file.
          if (performance.now() - lastTurn > 20) {
            await new Promise((r) => setTimeout(r, 0));
            lastTurn = performance.now();
          }
          if (options.signal?.aborted) {
            throw new BenteviError(`${index}: interrupted`, 130);
          }
          const byteStart = prevByte + byteLen(prevText, 0, c.start - prevStart);
          const byteEnd = byteStart + byteLen(c.text);
          prevStart = c.start;
          prevByte = byteStart;
          prevText = c.text;
          const id = insChunk.run(
            docId,
            section.part,
            title,
            c.start,
            c.end,
            byteStart,
            byteEnd,
            c.tokens,
            c.text,
          ).lastInsertRowid;
          insFts.run(id, tTerms, analyzeTerms(c.text, stem).join(" "));
          if (tools.embedder) {
            toEmbed.push({ id, text: c.text });
            if (toEmbed.length >= EMBED_BATCH) await embedQueued();
          }
          chunks++;
          tokens += c.tokens;
          chars += c.text.length;
          progress.update(
            (doneBytes + Math.min(fileBytes, file.size)) / 1e6,
            `${report.chunks + chunks} chunks`,
          );
        }
      }
      await embedQueued();
      setDoc.run(chunks, tokens, chars, docId);
      db.exec("COMMIT");
      report.indexed++;
      report.chunks += chunks;
      report.bytes += file.size;
    } catch (e) {
      if (db.isTransaction) db.exec("ROLLBACK");
      if (options.signal?.aborted) break;
      if (e instanceof BenteviError && !(e.message.startsWith(`${index}:`))) {
        const reason = e.message.startsWith(`${file.path}: `)
          ? e.message.slice(file.path.length + 2)
          : e.message;
        report.skipped.push({ path: file.path, reason });
        options.onSkip?.(file.path, reason);
        if (prev) report.removed++; // its old chunks were rolled back in; drop them now
        if (prev) {
          db.exec("BEGIN");
          deleteDocument(db, prev.id);
          db.exec("COMMIT");
        }
      } else throw fail(e);
    }
    doneBytes += file.size;
    progress.update(doneBytes / 1e6, `${report.chunks} chunks`);
  }
  report.seconds = (performance.now() - options.t0) / 1000;
  const totals = db.prepare(
    "SELECT (SELECT count(*) FROM documents) AS documents, (SELECT count(*) FROM chunks) AS chunks",
  ).get() as { documents: number; chunks: number };
  report.totals = { documents: Number(totals.documents), chunks: Number(totals.chunks) };
  if (options.signal?.aborted) {
    progress.end("interrupted");
    throw new BenteviError(
      `${index}: interrupted after ${report.indexed} file(s); the file in progress was rolled back and the index is marked incomplete — run the same command again to resume`,
      130,
    );
  }
  setMeta(db, "state", "complete");
  setMeta(db, "updated", new Date().toISOString());
  db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  progress.end(
    `${report.indexed} indexed, ${report.unchanged} unchanged, ${report.removed} removed, ${report.skipped.length} skipped; ${report.totals.chunks} chunks`,
  );
  return report;
}
