/**
 * What the single reader (dump.ts) and the parallel readers (parallel.ts, worker.ts) of a
 * Wikipedia dump share: page outcomes and their counts, the record format, the shard writer,
 * the options and the rate line.
 *
 * @module
 */
import { join } from "node:path";
import { BenteviError, fsError, osErrorPhrase, writeError } from "../../errors.ts";
import type { Progress } from "../../progress.ts";
import { cleanWikitext, isRedirectText } from "./cleaner.ts";
import type { WikiPage } from "./xml.ts";

/** A cleaned article. */
export interface WikiArticle {
  id: string;
  title: string;
  text: string;
}

/** What happened to the pages of a dump. */
export interface WikiStats {
  /** `<page>` elements read. */
  pagesSeen: number;
  /** Articles written. */
  kept: number;
  /** Redirect pages skipped. */
  redirects: number;
  /** Pages of other namespaces skipped (talk, user, templates, categories…). */
  otherNamespaces: number;
  /** Articles with no prose left after cleaning. */
  emptyAfterCleaning: number;
  /** Articles shorter than `minChars` after cleaning. */
  tooShort: number;
  /** Compressed (or plain) input bytes read. */
  inputBytes: number;
  /** Decompressed XML bytes. */
  xmlBytes: number;
  /** Characters of clean text written. */
  outputChars: number;
  /** Shards written. */
  shards: string[];
  /** Wall time in seconds. */
  seconds: number;
  /** Workers used (1 = in-process). */
  workers: number;
}

/** The fate of one page. */
export type PageOutcome =
  | { kind: "kept"; article: WikiArticle }
  | { kind: "redirect" | "other" | "empty" | "short" };

/**
 * Classifies and cleans one page.
 *
 * @example
 * ```ts
 * import { processPage } from "./shards.ts";
 * const r = processPage({ id: "1", title: "T", ns: 0, redirect: false, text: "Olá, [[mundo]]." }, 0);
 * console.log(r.kind); // "kept"
 * ```
 */
export function processPage(page: WikiPage, minChars: number): PageOutcome {
  if (page.ns !== 0) return { kind: "other" };
  if (page.redirect || isRedirectText(page.text)) return { kind: "redirect" };
  const text = cleanWikitext(page.text, { title: page.title });
  if (text.length === 0) return { kind: "empty" };
  if (text.length < minChars) return { kind: "short" };
  return { kind: "kept", article: { id: page.id, title: page.title, text } };
}

/** Adds an outcome to the counters. */
export function countOutcome(stats: WikiStats, outcome: PageOutcome): void {
  stats.pagesSeen++;
  switch (outcome.kind) {
    case "kept":
      stats.kept++;
      stats.outputChars += outcome.article.text.length;
      break;
    case "redirect":
      stats.redirects++;
      break;
    case "other":
      stats.otherNamespaces++;
      break;
    case "empty":
      stats.emptyAfterCleaning++;
      break;
    case "short":
      stats.tooShort++;
      break;
  }
}

/** Fresh counters. */
export function emptyStats(): WikiStats {
  return {
    pagesSeen: 0,
    kept: 0,
    redirects: 0,
    otherNamespaces: 0,
    emptyAfterCleaning: 0,
    tooShort: 0,
    inputBytes: 0,
    xmlBytes: 0,
    outputChars: 0,
    shards: [],
    seconds: 0,
    workers: 1,
  };
}

/** Output format of the shards. */
export type WikiFormat = "jsonl" | "txt";

/**
 * One article as it appears in a shard: a JSON line `{"id","title","text"}`, or for txt the
 * title, a blank line, the text, and two blank lines before the next article.
 */
export function formatRecord(article: WikiArticle, format: WikiFormat): string {
  return format === "jsonl"
    ? JSON.stringify({ id: article.id, title: article.title, text: article.text }) + "\n"
    : `${article.title}\n\n${article.text}\n\n\n`;
}

/**
 * Shard records encoded as UTF-8 back to back, with each record's byte length: what a Worker
 * of the parallel reader hands to the main thread (the buffers are transferred, not copied),
 * and what {@link ShardWriter.writeEncoded} writes.
 *
 * @example
 * ```ts
 * import { EncodedRecords } from "./shards.ts";
 * const batch = new EncodedRecords(16);
 * batch.add("Olá\n");
 * batch.add("mundo\n");
 * const { bytes, lengths } = batch.take();
 * console.log(bytes.length, [...lengths]); // 11 [ 5, 6 ]
 * ```
 */
export class EncodedRecords {
  #encoder = new TextEncoder();
  #initialBytes: number;
  #bytes = new Uint8Array(0);
  #used = 0;
  #lengths: number[] = [];

  /** `initialBytes`: the buffer's first size (it grows as needed). */
  constructor(initialBytes = 1 << 20) {
    this.#initialBytes = Math.max(16, initialBytes);
  }

  /** Bytes held. */
  get byteLength(): number {
    return this.#used;
  }

  /** Appends one record. */
  add(record: string): void {
    if (this.#bytes.length === 0) this.#bytes = new Uint8Array(this.#initialBytes);
    let r = this.#encoder.encodeInto(record, this.#bytes.subarray(this.#used));
    if (r.read < record.length) {
      // UTF-8 takes at most 3 bytes per UTF-16 code unit
      const grown = new Uint8Array(
        Math.max(this.#bytes.length * 2, this.#used + record.length * 3),
      );
      grown.set(this.#bytes.subarray(0, this.#used));
      this.#bytes = grown;
      r = this.#encoder.encodeInto(record, this.#bytes.subarray(this.#used));
    }
    this.#used += r.written;
    this.#lengths.push(r.written);
  }

  /** Returns the records added so far (the bytes are a view of a buffer given away). */
  take(): { bytes: Uint8Array; lengths: Uint32Array } {
    const out = {
      bytes: this.#bytes.subarray(0, this.#used),
      lengths: Uint32Array.from(this.#lengths),
    };
    this.#bytes = new Uint8Array(0);
    this.#used = 0;
    this.#lengths = [];
    return out;
  }
}

/**
 * Writes records into numbered shards (`wiki_00000.jsonl`…) inside a temporary folder in
 * `dir`; {@link ShardWriter.finish} moves them into `dir`, {@link ShardWriter.abort} removes
 * them, so a failed run leaves no shard under a final name. A shard ends after the first
 * record that brings it to `shardBytes` bytes or more: where shards split depends only on the
 * records, never on how they were buffered, so one reader and several Workers write the same
 * files.
 */
export class ShardWriter {
  readonly dir: string;
  readonly format: WikiFormat;
  readonly shardBytes: number;
  #tmpDir = "";
  #file: Deno.FsFile | null = null;
  /** Bytes of the current shard, written or buffered. */
  #bytes = 0;
  #names: string[] = [];
  #encoder = new TextEncoder();
  #buffer = new Uint8Array(1 << 20);
  #used = 0;

  constructor(dir: string, format: WikiFormat, shardBytes = 64 << 20) {
    this.dir = dir;
    this.format = format;
    this.shardBytes = shardBytes;
  }

  /** Creates the output folder and the temporary folder inside it. */
  async open(): Promise<void> {
    try {
      await Deno.mkdir(this.dir, { recursive: true });
      this.#tmpDir = await Deno.makeTempDir({ dir: this.dir, prefix: ".wiki-partial-" });
    } catch (e) {
      throw new BenteviError(
        `${this.dir}: cannot write the output folder (${
          osErrorPhrase(e) ?? fsError(e, this.dir).message
        })`,
      );
    }
  }

  #shardName(i: number): string {
    return `wiki_${String(i).padStart(5, "0")}.${this.format}`;
  }

  /** Writes `bytes` to the current shard file (opened on first use). */
  async #put(bytes: Uint8Array): Promise<void> {
    if (!bytes.length) return;
    if (!this.#file) {
      const name = this.#shardName(this.#names.length);
      this.#names.push(name);
      try {
        this.#file = await Deno.open(join(this.#tmpDir, name), { write: true, createNew: true });
      } catch (e) {
        throw writeError(e, join(this.dir, name));
      }
    }
    let off = 0;
    try {
      while (off < bytes.length) off += await this.#file.write(bytes.subarray(off));
    } catch (e) {
      throw writeError(e, join(this.dir, this.#names[this.#names.length - 1]));
    }
  }

  async #flush(): Promise<void> {
    const used = this.#used;
    this.#used = 0;
    await this.#put(this.#buffer.subarray(0, used));
  }

  /** Buffers (or, when large, writes) the bytes of whole records of the current shard. */
  async #append(bytes: Uint8Array): Promise<void> {
    if (this.#used + bytes.length <= this.#buffer.length) {
      this.#buffer.set(bytes, this.#used);
      this.#used += bytes.length;
    } else {
      await this.#flush();
      if (bytes.length < this.#buffer.length) {
        this.#buffer.set(bytes);
        this.#used = bytes.length;
      } else await this.#put(bytes);
    }
  }

  async #endShard(): Promise<void> {
    await this.#flush();
    this.#file?.close();
    this.#file = null;
    this.#bytes = 0;
  }

  /** Adds one article. */
  async write(article: WikiArticle): Promise<void> {
    await this.writeRecord(formatRecord(article, this.format));
  }

  /** Adds one formatted record (see {@link formatRecord}). */
  async writeRecord(record: string): Promise<void> {
    if (!record) return;
    let r = this.#encoder.encodeInto(record, this.#buffer.subarray(this.#used));
    if (r.read < record.length) {
      await this.#flush();
      if (record.length * 3 > this.#buffer.length) {
        this.#buffer = new Uint8Array(Math.max(this.#buffer.length * 2, record.length * 3));
      }
      r = this.#encoder.encodeInto(record, this.#buffer);
    }
    this.#used += r.written;
    this.#bytes += r.written;
    if (this.#bytes >= this.shardBytes) await this.#endShard();
    else if (this.#used >= this.#buffer.length - (64 << 10)) await this.#flush();
  }

  /** Adds records already encoded (see {@link EncodedRecords}): `lengths` are their sizes. */
  async writeEncoded(bytes: Uint8Array, lengths: Uint32Array): Promise<void> {
    let start = 0;
    let end = 0;
    for (let i = 0; i < lengths.length; i++) {
      end += lengths[i];
      this.#bytes += lengths[i];
      if (this.#bytes >= this.shardBytes) {
        await this.#append(bytes.subarray(start, end));
        start = end;
        await this.#endShard();
      }
    }
    if (end > bytes.length) throw new Error("writeEncoded: record lengths exceed the bytes");
    await this.#append(bytes.subarray(start, end));
  }

  /** Moves the finished shards into place; returns their paths. */
  async finish(): Promise<string[]> {
    await this.#endShard();
    const paths: string[] = [];
    for (const name of this.#names) {
      try {
        await Deno.rename(join(this.#tmpDir, name), join(this.dir, name));
      } catch (e) {
        throw writeError(e, join(this.dir, name));
      }
      paths.push(join(this.dir, name));
    }
    await Deno.remove(this.#tmpDir, { recursive: true });
    return paths;
  }

  /** Removes everything written. */
  async abort(): Promise<void> {
    try {
      this.#file?.close();
    } catch { /* closed */ }
    this.#file = null;
    if (this.#tmpDir) await Deno.remove(this.#tmpDir, { recursive: true }).catch(() => {});
  }
}

/** Options for `readWikiDump` and `convertWikiDump` (dump.ts). */
export interface WikiDumpOptions {
  /** Use the native bzip2 decoder (default: when the shim loads). */
  native?: boolean;
  /** Minimum characters of clean text to keep an article (default 0). */
  minChars?: number;
  /** Progress sink. */
  progress?: Progress;
  /** Called with byte counters as the dump is read. */
  onBytes?: (inputBytes: number, xmlBytes: number) => void;
}

/** Options for `convertWikiDump` (dump.ts). */
export interface ConvertWikiOptions extends WikiDumpOptions {
  /** Output folder. */
  output: string;
  /** Shard format (default jsonl). */
  format?: WikiFormat;
  /** Bytes per shard before a new one starts (default 64 MiB). */
  shardBytes?: number;
  /** Workers for multistream bzip2 dumps (default 1: in-process). */
  workers?: number;
  /** Compressed bytes per Worker task: whole bzip2 streams until at least this many (default
   * 256 KiB, about 1 MB of XML: a few of a real dump's 100-page streams). */
  streamGroupBytes?: number;
}

/** Formats the rate line shown while reading. */
export function rateInfo(stats: WikiStats, t0: number): string {
  const s = Math.max(1e-9, (performance.now() - t0) / 1000);
  return `${(stats.xmlBytes / 1e6 / s).toFixed(1)} MB/s XML  ${
    (stats.pagesSeen / s).toFixed(0)
  } pages/s  ${(stats.kept / s).toFixed(0)} articles/s  kept ${stats.kept}`;
}
