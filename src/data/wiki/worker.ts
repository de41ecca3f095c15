/**
 * Worker for the parallel dump reader: decompresses one group of bzip2 streams (a byte range
 * of the dump), cleans the whole `<page>` elements inside it and sends back the finished
 * shard records as UTF-8 bytes (transferred, not copied), plus the raw bytes before the first
 * and after the last page (the main thread stitches those with its neighbours' so pages that
 * straddle two groups are not lost). The main thread only writes what it receives, in order.
 *
 * Protocol: one {@link WikiWorkerInit} message, then any number of {@link WikiWorkerTask}s;
 * each task gets one {@link WikiWorkerResult}.
 *
 * @module
 */
import { BenteviError } from "../../errors.ts";
import { decompressBz2Bytes } from "../../native/bz2.ts";
import { ascii, indexOfBytes, lastIndexOfBytes } from "./bytes.ts";
import {
  countOutcome,
  emptyStats,
  EncodedRecords,
  formatRecord,
  processPage,
  type WikiFormat,
  type WikiStats,
} from "./shards.ts";
import { WikiXmlParser, XmlDecoder } from "./xml.ts";

/** What every task of one run shares (the first message to a Worker). */
export interface WikiWorkerInit {
  type: "init";
  path: string;
  minChars: number;
  format: WikiFormat;
  native?: boolean;
}

/** A task: decompress and clean the bzip2 streams in `[start, end)` of the dump. */
export interface WikiWorkerTask {
  type: "task";
  seq: number;
  start: number;
  end: number;
}

/** A task's result. */
export type WikiWorkerResult =
  | {
    type: "done";
    seq: number;
    /** The XML before the first `<page>` of the group (raw bytes). */
    head: Uint8Array;
    /** The XML after the last `</page>`. */
    tail: Uint8Array;
    /** The kept articles as shard records (see `formatRecord`), UTF-8, in dump order. */
    records: Uint8Array;
    /** Each record's byte length. */
    lengths: Uint32Array;
    stats: WikiStats;
    xmlBytes: number;
  }
  | { type: "error"; seq: number; message: string; user: boolean };

const PAGE_OPEN = ascii("<page>");
const PAGE_CLOSE = ascii("</page>");

/** Buffers kept between tasks (a Worker runs one task at a time). */
const buffers: { compressed: Uint8Array; xml: Uint8Array } = {
  compressed: new Uint8Array(0),
  xml: new Uint8Array(0),
};

async function readRange(file: Deno.FsFile, start: number, end: number): Promise<Uint8Array> {
  if (buffers.compressed.length < end - start) buffers.compressed = new Uint8Array(end - start);
  const buf = buffers.compressed.subarray(0, end - start);
  await file.seek(start, Deno.SeekMode.Start);
  let off = 0;
  while (off < buf.length) {
    const n = await file.read(buf.subarray(off));
    if (n === null) break;
    off += n;
  }
  return buf.subarray(0, off);
}

/**
 * Runs one task on an open dump (exported for tests; the Worker calls it per message). Throws
 * a {@link BenteviError} naming the byte range on corrupt data.
 */
export async function runWikiTask(
  init: WikiWorkerInit,
  file: Deno.FsFile,
  task: WikiWorkerTask,
): Promise<WikiWorkerResult & { type: "done" }> {
  const compressed = await readRange(file, task.start, task.end);
  const name = `${init.path} (bzip2 streams at bytes ${task.start}–${task.end})`;
  if (buffers.xml.length < compressed.length * 4) {
    buffers.xml = new Uint8Array(compressed.length * 6);
  }
  const xml = decompressBz2Bytes(compressed, { name, native: init.native, into: buffers.xml });
  buffers.xml = new Uint8Array(xml.buffer);
  const size = xml.length;
  const stats = emptyStats();
  const first = indexOfBytes(xml, PAGE_OPEN);
  const lastClose = lastIndexOfBytes(xml, PAGE_CLOSE);
  const last = lastClose < 0 ? -1 : lastClose + PAGE_CLOSE.length;
  if (first < 0 || last <= first) {
    return {
      type: "done",
      seq: task.seq,
      head: xml.slice(),
      tail: new Uint8Array(0),
      records: new Uint8Array(0),
      lengths: new Uint32Array(0),
      stats,
      xmlBytes: size,
    };
  }
  let text: string[];
  try {
    const decoder = new XmlDecoder("utf-8");
    text = decoder.decode(xml.subarray(first, last));
    text.push(decoder.end());
  } catch {
    throw new BenteviError(`${name}: invalid UTF-8 in the decompressed XML`);
  }
  const parser = new WikiXmlParser({ name, fragment: true });
  for (const piece of text) parser.write(piece);
  parser.close();
  const out = new EncodedRecords(Math.max(64 << 10, size >> 1));
  for (const page of parser.take()) {
    const outcome = processPage(page, init.minChars);
    countOutcome(stats, outcome);
    if (outcome.kind === "kept") out.add(formatRecord(outcome.article, init.format));
  }
  const { bytes, lengths } = out.take();
  return {
    type: "done",
    seq: task.seq,
    head: xml.slice(0, first),
    tail: xml.slice(last),
    records: bytes,
    lengths,
    stats,
    xmlBytes: size,
  };
}

// deno-lint-ignore no-explicit-any
const scope = globalThis as any;
if (typeof scope.WorkerGlobalScope !== "undefined" && scope instanceof scope.WorkerGlobalScope) {
  let init: WikiWorkerInit | null = null;
  let file: Deno.FsFile | null = null;
  // tasks run one at a time, in the order they came
  let queue: Promise<void> = Promise.resolve();
  scope.onmessage = (event: MessageEvent<WikiWorkerInit | WikiWorkerTask>) => {
    const msg = event.data;
    if (msg.type === "init") {
      init = msg;
      return;
    }
    queue = queue.then(async () => {
      try {
        file ??= await Deno.open(init!.path, { read: true });
        const r = await runWikiTask(init!, file, msg);
        scope.postMessage(r, [r.head.buffer, r.tail.buffer, r.records.buffer, r.lengths.buffer]);
      } catch (e) {
        scope.postMessage(
          {
            type: "error",
            seq: msg.seq,
            message: (e as Error)?.message ?? String(e),
            user: e instanceof BenteviError,
          } satisfies WikiWorkerResult,
        );
      }
    });
  };
}
