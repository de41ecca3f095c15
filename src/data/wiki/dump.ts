/**
 * `wiki`: a Wikipedia dump (`.xml.bz2` or `.xml`, UTF-8 or UTF-16) → clean article text in
 * shards, streaming (never the whole dump in memory). Keeps main-namespace pages that are not
 * redirects, cleans them with {@link cleanWikitext} and writes `{"id","title","text"}` JSON
 * lines (or plain text). Multistream dumps can be read by several Workers (see parallel.ts).
 *
 * @module
 */
import { join } from "node:path";
import { BenteviError, fsError } from "../../errors.ts";
import { type Progress, silentProgress } from "../../progress.ts";
import { decompressBz2, isBz2, readFileChunks } from "../../native/bz2.ts";
import { cleanWikitext, isRedirectText } from "./cleaner.ts";
import { detectXmlEncoding, type WikiPage, WikiXmlParser } from "./xml.ts";

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
 * import { processPage } from "./dump.ts";
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
        `${this.dir}: cannot write the output folder (${fsError(e, this.dir).message})`,
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
      this.#file = await Deno.open(join(this.#tmpDir, name), { write: true, createNew: true });
      this.#bytes = 0;
    }
    const bytes = this.#encoder.encode(this.#buffer.join(""));
    this.#buffer = [];
    this.#bufferChars = 0;
    let off = 0;
    while (off < bytes.length) off += await this.#file.write(bytes.subarray(off));
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
      await Deno.rename(join(this.#tmpDir, name), join(this.dir, name));
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

/** Options for {@link readWikiDump} and {@link convertWikiDump}. */
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

/**
 * Streams the pages of a dump (bzip2-compressed or plain XML; UTF-8 or UTF-16).
 *
 * @example
 * ```ts ignore
 * import { readWikiDump } from "./dump.ts";
 * for await (const page of readWikiDump("ptwiki.xml.bz2")) console.log(page.title);
 * ```
 */
export async function* readWikiDump(
  path: string,
  options: WikiDumpOptions = {},
): AsyncGenerator<WikiPage> {
  const parser = new WikiXmlParser({ name: path });
  let decoder: TextDecoder | null = null;
  let inputBytes = 0;
  let xmlBytes = 0;
  const feedXml = (chunk: Uint8Array) => {
    if (chunk.length === 0) return;
    if (!decoder) {
      const enc = detectXmlEncoding(chunk);
      decoder = new TextDecoder(enc, { fatal: true, ignoreBOM: false });
    }
    let text: string;
    try {
      text = decoder.decode(chunk, { stream: true });
    } catch {
      throw new BenteviError(
        `${path}: invalid ${decoder.encoding} in the XML between decompressed bytes ${xmlBytes} and ${
          xmlBytes + chunk.length
        }`,
      );
    }
    xmlBytes += chunk.length;
    parser.write(text);
  };
  const input = readFileChunks(path, 256 << 10);
  const first = await input.next();
  if (first.done) throw new BenteviError(`${path}: empty file, not a MediaWiki dump`);
  async function* counted(): AsyncGenerator<Uint8Array> {
    try {
      inputBytes += first.value!.length;
      yield first.value!;
      for await (const chunk of input) {
        inputBytes += chunk.length;
        yield chunk;
      }
    } finally {
      await input.return(undefined); // closes the file even when stopped after the first chunk
    }
  }
  // With the native shim, the next bzip2 chunk decompresses on another thread while this one
  // is parsed and cleaned.
  const xml = isBz2(first.value)
    ? decompressBz2(counted(), { name: path, native: options.native })
    : counted();
  try {
    for await (const chunk of xml) {
      feedXml(chunk);
      options.onBytes?.(inputBytes, xmlBytes);
      yield* parser.take();
    }
    if (decoder) {
      try {
        parser.write((decoder as TextDecoder).decode());
      } catch (e) {
        if (e instanceof BenteviError) throw e;
        throw new BenteviError(`${path}: the XML ends inside a multi-byte character`);
      }
    }
    parser.close();
    options.onBytes?.(inputBytes, xmlBytes);
    yield* parser.take();
  } finally {
    await xml.return(undefined);
  }
}

/** Options for {@link convertWikiDump}. */
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

/** The one-line summary of a run. */
export function summarizeStats(stats: WikiStats): string {
  return `${stats.pagesSeen} pages seen, ${stats.kept} kept, ${stats.redirects} redirects, ${stats.otherNamespaces} other namespaces, ${stats.emptyAfterCleaning} empty after cleaning, ${stats.tooShort} too short; ${
    (stats.xmlBytes / 1e6).toFixed(1)
  } MB XML at ${(stats.xmlBytes / 1e6 / Math.max(1e-9, stats.seconds)).toFixed(1)} MB/s, ${
    (stats.kept / Math.max(1e-9, stats.seconds)).toFixed(0)
  } articles/s, ${stats.shards.length} shard(s)`;
}

/**
 * Converts a dump into clean-text shards in `options.output`; returns the counts.
 *
 * @example
 * ```ts ignore
 * import { convertWikiDump } from "./dump.ts";
 * const stats = await convertWikiDump("ptwiki.xml.bz2", { output: "out/wiki" });
 * console.log(stats.kept);
 * ```
 */
export async function convertWikiDump(
  path: string,
  options: ConvertWikiOptions,
): Promise<WikiStats> {
  const workers = options.workers ?? 1;
  if (workers > 1) {
    const { convertWikiDumpParallel } = await import("./parallel.ts");
    const result = await convertWikiDumpParallel(path, options);
    if (result) return result;
    // not a multistream bzip2 dump: fall through to one reader
  }
  const progress = options.progress ?? silentProgress;
  const minChars = options.minChars ?? 0;
  const stats = emptyStats();
  let size = 0;
  try {
    size = (await Deno.stat(path)).size;
  } catch (e) {
    throw fsError(e, path);
  }
  const writer = new ShardWriter(options.output, options.format ?? "jsonl", options.shardBytes);
  await writer.open();
  const t0 = performance.now();
  progress.start(`wiki ${path}`, Math.max(1, Math.round(size / 1e6)), "MB");
  try {
    for await (
      const page of readWikiDump(path, {
        native: options.native,
        onBytes: (inBytes, xml) => {
          stats.inputBytes = inBytes;
          stats.xmlBytes = xml;
          progress.update(Math.round(inBytes / 1e6), rateInfo(stats, t0));
        },
      })
    ) {
      const outcome = processPage(page, minChars);
      countOutcome(stats, outcome);
      if (outcome.kind === "kept") await writer.write(outcome.article);
    }
    stats.shards = await writer.finish();
  } catch (e) {
    await writer.abort();
    progress.end("failed");
    throw e;
  }
  stats.seconds = (performance.now() - t0) / 1000;
  progress.end(`${stats.kept} articles kept`);
  return stats;
}
