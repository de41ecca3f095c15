/**
 * The parallel dump reader for multistream `.xml.bz2` dumps (several bzip2 streams back to
 * back, as Wikipedia's `pages-articles-multistream` files are): the main thread finds the
 * stream starts without decompressing, hands groups of streams to Workers (decompress, parse,
 * clean), and writes their articles in dump order. The XML outside whole `<page>` elements
 * (the `<siteinfo>` header, pages that straddle two groups, the closing tag) goes through one
 * parser on the main thread, so the result is the same as reading the dump in one piece.
 *
 * @module
 */
import { BenteviError, fsError } from "../../errors.ts";
import { silentProgress } from "../../progress.ts";
import { isBz2 } from "../../native/bz2.ts";
import { findBz2StreamStarts } from "./bytes.ts";
import {
  type ConvertWikiOptions,
  countOutcome,
  emptyStats,
  processPage,
  rateInfo,
  ShardWriter,
  type WikiStats,
} from "./shards.ts";
import type { WikiWorkerInit, WikiWorkerResult, WikiWorkerTask } from "./worker.ts";
import { detectXmlEncoding, WikiXmlParser, XmlDecoder } from "./xml.ts";

/** A byte range of whole bzip2 streams. */
export interface StreamGroup {
  start: number;
  end: number;
}

/**
 * Scans a bzip2 file for stream starts and yields groups of whole streams of at least
 * `targetBytes` (the last group may be smaller). Yields a single group for a single-stream
 * file.
 *
 * @example
 * ```ts ignore
 * import { scanStreamGroups } from "./parallel.ts";
 * for await (const g of scanStreamGroups("dump-multistream.xml.bz2", 4 << 20)) console.log(g);
 * ```
 */
export async function* scanStreamGroups(
  path: string,
  targetBytes: number,
): AsyncGenerator<StreamGroup> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (e) {
    throw fsError(e, path);
  }
  const CHUNK = 8 << 20;
  const OVERLAP = 9;
  let groupStart = 0;
  let offset = 0; // file offset of buf[0]
  let carry = new Uint8Array(0);
  try {
    for (;;) {
      const buf = new Uint8Array(carry.length + CHUNK);
      buf.set(carry);
      let n = 0;
      while (n < CHUNK) {
        const r = await file.read(buf.subarray(carry.length + n));
        if (r === null) break;
        n += r;
      }
      const data = buf.subarray(0, carry.length + n);
      for (const s of findBz2StreamStarts(data, offset)) {
        if (s > groupStart && s - groupStart >= targetBytes) {
          yield { start: groupStart, end: s };
          groupStart = s;
        }
      }
      if (n < CHUNK) {
        const end = offset + data.length;
        if (end > groupStart) yield { start: groupStart, end };
        return;
      }
      const keep = Math.min(OVERLAP, data.length);
      carry = data.slice(data.length - keep);
      offset += data.length - keep;
    }
  } finally {
    file.close();
  }
}

/** Tasks given to one Worker at a time: it starts the next as soon as one is done. */
const TASKS_PER_WORKER = 2;

/**
 * Converts a multistream bzip2 dump with `options.workers` Workers; returns null (so the
 * caller reads it in one piece) when the file is not bzip2 or has a single stream.
 *
 * Each Worker decompresses, parses, cleans and encodes groups of whole streams and sends back
 * the finished shard records (UTF-8 bytes, transferred); this thread finds the stream starts,
 * hands the next group to whichever Worker has the fewest tasks (so a slow group never leaves
 * the other Workers idle), and writes the results in dump order. The output is byte for byte
 * the one-reader output (see {@link ShardWriter} on where shards split).
 */
export async function convertWikiDumpParallel(
  path: string,
  options: ConvertWikiOptions,
): Promise<WikiStats | null> {
  const workers = options.workers ?? 2;
  let size: number;
  let head: Uint8Array;
  try {
    size = (await Deno.stat(path)).size;
    const f = await Deno.open(path, { read: true });
    head = new Uint8Array(4);
    await f.read(head);
    f.close();
  } catch (e) {
    throw fsError(e, path);
  }
  if (!isBz2(head)) return null;
  const target = options.streamGroupBytes ?? 256 << 10;
  const groups = scanStreamGroups(path, target);
  const firstGroup = await groups.next();
  if (firstGroup.done) return null;
  const second = await groups.next();
  if (second.done) return null; // one stream (or too small to split): read it in one piece

  const progress = options.progress ?? silentProgress;
  const minChars = options.minChars ?? 0;
  const format = options.format ?? "jsonl";
  const stats = emptyStats();
  stats.workers = workers;
  const writer = new ShardWriter(options.output, format, options.shardBytes);
  await writer.open();
  const t0 = performance.now();
  progress.start(`wiki ${path} (${workers} workers)`, Math.max(1, Math.round(size / 1e6)), "MB");

  // Results that came back, by sequence number, until their turn to be written.
  const done = new Map<number, WikiWorkerResult>();
  let wake: (() => void) | null = null;
  const notify = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  const busy: number[] = new Array(workers).fill(0);
  const pool: Worker[] = [];
  let failure: WikiWorkerResult | null = null;
  const init: WikiWorkerInit = { type: "init", path, minChars, format, native: options.native };
  for (let i = 0; i < workers; i++) {
    const w = new Worker(new URL("./worker.ts", import.meta.url).href, { type: "module" });
    w.onmessage = (ev: MessageEvent<WikiWorkerResult>) => {
      busy[i]--;
      done.set(ev.data.seq, ev.data);
      notify();
    };
    w.onerror = (ev) => {
      ev.preventDefault();
      failure ??= {
        type: "error",
        seq: -1,
        message: `wiki worker failed: ${ev.message}`,
        user: false,
      };
      notify();
    };
    w.postMessage(init);
    pool.push(w);
  }

  // The glue: everything outside the Workers' whole pages, parsed in order on this thread.
  const glue = new WikiXmlParser({ name: path });
  let glueDecoder: XmlDecoder | null = null;
  const feedGlue = (bytes: Uint8Array) => {
    if (bytes.length === 0) return;
    glueDecoder ??= new XmlDecoder(detectXmlEncoding(bytes));
    let text: string[];
    try {
      text = glueDecoder.decode(bytes);
    } catch {
      throw new BenteviError(`${path}: invalid ${glueDecoder.encoding} in the XML`);
    }
    for (const piece of text) glue.write(piece);
  };
  const drainGlue = async () => {
    for (const page of glue.take()) {
      const outcome = processPage(page, minChars);
      countOutcome(stats, outcome);
      if (outcome.kind === "kept") await writer.write(outcome.article);
    }
  };

  const ends: number[] = []; // end offset of each submitted group, by sequence number
  let submitted = 0;
  let written = 0;
  let scanned: StreamGroup[] = [firstGroup.value, second.value];
  let scanDone = false;
  const nextGroup = async (): Promise<StreamGroup | null> => {
    if (scanned.length) return scanned.shift()!;
    if (scanDone) return null;
    const n = await groups.next();
    if (n.done) {
      scanDone = true;
      return null;
    }
    return n.value;
  };
  // keep every Worker fed, but hold at most this many results unwritten (bounded memory)
  const maxAhead = workers * (TASKS_PER_WORKER + 2);
  const submitMore = async () => {
    for (;;) {
      let w = 0;
      for (let i = 1; i < workers; i++) if (busy[i] < busy[w]) w = i;
      if (busy[w] >= TASKS_PER_WORKER || submitted - written >= maxAhead) return;
      const group = await nextGroup();
      if (!group) return;
      const task: WikiWorkerTask = {
        type: "task",
        seq: submitted++,
        start: group.start,
        end: group.end,
      };
      ends.push(group.end);
      busy[w]++;
      pool[w].postMessage(task);
    }
  };
  const writeResult = async (r: WikiWorkerResult) => {
    if (r.type === "error") {
      throw r.user ? new BenteviError(r.message) : new Error(r.message);
    }
    feedGlue(r.head);
    await drainGlue();
    await writer.writeEncoded(r.records, r.lengths);
    for (const k of Object.keys(r.stats) as (keyof WikiStats)[]) {
      const v = r.stats[k];
      if (typeof v === "number" && k !== "seconds" && k !== "workers") {
        (stats[k] as number) += v;
      }
    }
    feedGlue(r.tail);
    await drainGlue();
    stats.xmlBytes += r.xmlBytes;
  };

  try {
    for (;;) {
      await submitMore();
      if (failure) await writeResult(failure);
      const r = done.get(written);
      if (r) {
        done.delete(written);
        await writeResult(r);
        stats.inputBytes = ends[written];
        written++;
        progress.update(Math.round(stats.inputBytes / 1e6), rateInfo(stats, t0));
        continue;
      }
      if (written === submitted && scanDone) break;
      await new Promise<void>((resolve) => (wake = resolve));
    }
    if (glueDecoder) glue.write((glueDecoder as XmlDecoder).end());
    glue.close();
    await drainGlue();
    stats.shards = await writer.finish();
  } catch (e) {
    await writer.abort();
    progress.end("failed");
    throw e;
  } finally {
    for (const w of pool) w.terminate();
    scanned = [];
    await groups.return(undefined); // closes the scanned file if we stopped early
  }
  stats.seconds = (performance.now() - t0) / 1000;
  progress.end(`${stats.kept} articles kept`);
  return stats;
}
