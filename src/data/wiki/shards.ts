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
 * Writes articles into numbered shards (`wiki_00000.jsonl`…) inside a temporary folder in
 * `dir`; {@link ShardWriter.finish} moves them into `dir`, {@link ShardWriter.abort} removes
 * them, so a failed run leaves no shard under a final name.
 */
export class ShardWriter {
  readonly dir: string;
  readonly format: WikiFormat;
  readonly shardBytes: number;
  #tmpDir = "";
  #file: Deno.FsFile | null = null;
  #bytes = 0;
  #names: string[] = [];
  #encoder = new TextEncoder();
  #buffer: string[] = [];
  #bufferChars = 0;

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

  async #flush(): Promise<void> {
    if (!this.#buffer.length) return;
    if (!this.#file) {
      const name = this.#shardName(this.#names.length);
      this.#names.push(name);
      try {
        this.#file = await Deno.open(join(this.#tmpDir, name), { write: true, createNew: true });
      } catch (e) {
        throw writeError(e, join(this.dir, name));
      }
      this.#bytes = 0;
    }
    const bytes = this.#encoder.encode(this.#buffer.join(""));
    this.#buffer = [];
    this.#bufferChars = 0;
    let off = 0;
    try {
      while (off < bytes.length) off += await this.#file.write(bytes.subarray(off));
    } catch (e) {
      throw writeError(e, join(this.dir, this.#names[this.#names.length - 1]));
    }
    this.#bytes += bytes.length;
    if (this.#bytes >= this.shardBytes) {
      this.#file.close();
      this.#file = null;
    }
  }

  /** Adds one article. */
  async write(article: WikiArticle): Promise<void> {
    await this.writeRecords(formatRecord(article, this.format));
  }

  /** Adds already formatted records (see {@link formatRecord}). */
  async writeRecords(records: string): Promise<void> {
    if (!records) return;
    this.#buffer.push(records);
    this.#bufferChars += records.length;
    if (this.#bufferChars >= 1 << 20) await this.#flush();
  }

  /** Moves the finished shards into place; returns their paths. */
  async finish(): Promise<string[]> {
    await this.#flush();
    this.#file?.close();
    this.#file = null;
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
  /** Compressed bytes per Worker task (default: file size / (8 × workers), 256 KiB–8 MiB). */
  streamGroupBytes?: number;
}

/** Formats the rate line shown while reading. */
export function rateInfo(stats: WikiStats, t0: number): string {
  const s = Math.max(1e-9, (performance.now() - t0) / 1000);
  return `${(stats.xmlBytes / 1e6 / s).toFixed(1)} MB/s XML  ${
    (stats.pagesSeen / s).toFixed(0)
  } pages/s  ${(stats.kept / s).toFixed(0)} articles/s  kept ${stats.kept}`;
}
