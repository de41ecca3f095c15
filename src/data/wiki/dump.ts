/**
 * `wiki`: a Wikipedia dump (`.xml.bz2` or `.xml`, UTF-8 or UTF-16) → clean article text in
 * shards, streaming (never the whole dump in memory). Keeps main-namespace pages that are not
 * redirects, cleans them with {@link cleanWikitext} and writes `{"id","title","text"}` JSON
 * lines (or plain text). Multistream dumps can be read by several Workers (see parallel.ts).
 *
 * @module
 */
import { BenteviError, fsError } from "../../errors.ts";
import { refuseOutputOverInputs } from "../../io/fs.ts";
import { silentProgress } from "../../progress.ts";
import { decompressBz2, isBz2, readFileChunks } from "../../native/bz2.ts";
import { convertWikiDumpParallel } from "./parallel.ts";
import {
  type ConvertWikiOptions,
  countOutcome,
  emptyStats,
  processPage,
  rateInfo,
  ShardWriter,
  type WikiDumpOptions,
  type WikiStats,
} from "./shards.ts";
import { detectXmlEncoding, type WikiPage, WikiXmlParser, XmlDecoder } from "./xml.ts";

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
  let decoder: XmlDecoder | null = null;
  let inputBytes = 0;
  let xmlBytes = 0;
  const feedXml = (chunk: Uint8Array) => {
    if (chunk.length === 0) return;
    decoder ??= new XmlDecoder(detectXmlEncoding(chunk));
    let text: string[];
    try {
      text = decoder.decode(chunk);
    } catch {
      throw new BenteviError(
        `${path}: invalid ${decoder.encoding} in the XML between decompressed bytes ${xmlBytes} and ${
          xmlBytes + chunk.length
        }`,
      );
    }
    xmlBytes += chunk.length;
    for (const piece of text) parser.write(piece);
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
        parser.write((decoder as XmlDecoder).end());
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

/** The one-line summary of a run. */
export function summarizeStats(stats: WikiStats): string {
  return `${stats.pagesSeen} pages seen, ${stats.kept} kept, ${stats.redirects} redirects, ${stats.otherNamespaces} other namespaces, ${stats.emptyAfterCleaning} empty after cleaning, ${stats.tooShort} too short; ${
    (stats.xmlBytes / 1e6).toFixed(1)
  } MB XML at ${(stats.xmlBytes / 1e6 / Math.max(1e-9, stats.seconds)).toFixed(1)} MB/s, ${
    (stats.kept / Math.max(1e-9, stats.seconds)).toFixed(0)
  } articles/s, ${stats.shards.length} shard(s)`;
}

/** Refuses an output folder where a shard (`wiki_NNNNN.jsonl|txt`) would replace the dump. */
async function refuseShardOverDump(dump: string, output: string): Promise<void> {
  const shards: string[] = [];
  try {
    for await (const e of Deno.readDir(output)) {
      if (/^wiki_\d{5}\.(jsonl|txt)$/.test(e.name)) shards.push(`${output}/${e.name}`);
    }
  } catch { /* no folder yet (or not one: the writer says so) */ }
  await refuseOutputOverInputs(shards, [dump]);
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
  await refuseShardOverDump(path, options.output);
  const workers = options.workers ?? 1;
  if (workers > 1) {
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
