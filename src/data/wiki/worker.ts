/**
 * Worker for the parallel dump reader: decompresses one group of bzip2 streams (a byte range
 * of the dump), cleans the whole `<page>` elements inside it and sends back the articles,
 * plus the raw bytes before the first and after the last page (the main thread stitches
 * those with its neighbours' so pages that straddle two groups are not lost).
 *
 * @module
 */
import { BenteviError } from "../../errors.ts";
import { createBz2Decompressor } from "../../native/bz2.ts";
import { ascii, indexOfBytes, lastIndexOfBytes } from "./bytes.ts";
import {
  countOutcome,
  emptyStats,
  formatRecord,
  processPage,
  type WikiFormat,
  type WikiStats,
} from "./shards.ts";
import { WikiXmlParser } from "./xml.ts";

/** A task: decompress and clean `[start, end)` of `path`. */
export interface WikiWorkerTask {
  seq: number;
  path: string;
  start: number;
  end: number;
  minChars: number;
  format: WikiFormat;
  native?: boolean;
}

/** A task's result. */
export type WikiWorkerResult =
  | {
    type: "done";
    seq: number;
    head: Uint8Array;
    tail: Uint8Array;
    /** The kept articles, formatted as shard records, in dump order. */
    records: string;
    stats: WikiStats;
    xmlBytes: number;
  }
  | { type: "error"; seq: number; message: string; user: boolean };

const PAGE_OPEN = ascii("<page>");
const PAGE_CLOSE = ascii("</page>");

async function readRange(path: string, start: number, end: number): Promise<Uint8Array> {
  const file = await Deno.open(path, { read: true });
  try {
    await file.seek(start, Deno.SeekMode.Start);
    const buf = new Uint8Array(end - start);
    let off = 0;
    while (off < buf.length) {
      const n = await file.read(buf.subarray(off));
      if (n === null) break;
      off += n;
    }
    return buf.subarray(0, off);
  } finally {
    file.close();
  }
}

/** Runs one task (exported for tests; the Worker calls it per message). */
export async function runWikiTask(task: WikiWorkerTask): Promise<WikiWorkerResult> {
  const compressed = await readRange(task.path, task.start, task.end);
  const name = `${task.path} (bzip2 streams at bytes ${task.start}–${task.end})`;
  const bz = createBz2Decompressor({ name, native: task.native });
  const parts: Uint8Array[] = [];
  let size = 0;
  try {
    for (const c of bz.push(compressed)) {
      parts.push(c);
      size += c.length;
    }
    for (const c of bz.end()) {
      parts.push(c);
      size += c.length;
    }
  } finally {
    bz.close();
  }
  const xml = new Uint8Array(size);
  let off = 0;
  for (const p of parts) {
    xml.set(p, off);
    off += p.length;
  }
  const stats = emptyStats();
  const first = indexOfBytes(xml, PAGE_OPEN);
  const lastClose = lastIndexOfBytes(xml, PAGE_CLOSE);
  const last = lastClose < 0 ? -1 : lastClose + PAGE_CLOSE.length;
  if (first < 0 || last <= first) {
    return {
      type: "done",
      seq: task.seq,
      head: xml,
      tail: new Uint8Array(0),
      records: "",
      stats,
      xmlBytes: size,
    };
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(xml.subarray(first, last));
  } catch {
    throw new BenteviError(`${name}: invalid UTF-8 in the decompressed XML`);
  }
  const parser = new WikiXmlParser({ name, fragment: true });
  parser.write(text);
  parser.close();
  const records: string[] = [];
  for (const page of parser.take()) {
    const outcome = processPage(page, task.minChars);
    countOutcome(stats, outcome);
    if (outcome.kind === "kept") records.push(formatRecord(outcome.article, task.format));
  }
  return {
    type: "done",
    seq: task.seq,
    head: xml.slice(0, first),
    tail: xml.slice(last),
    records: records.join(""),
    stats,
    xmlBytes: size,
  };
}

// deno-lint-ignore no-explicit-any
const scope = globalThis as any;
if (typeof scope.WorkerGlobalScope !== "undefined" && scope instanceof scope.WorkerGlobalScope) {
  scope.onmessage = async (event: MessageEvent<WikiWorkerTask>) => {
    const task = event.data;
    try {
      const result = await runWikiTask(task);
      const transfer = result.type === "done" ? [result.head.buffer, result.tail.buffer] : [];
      scope.postMessage(result, transfer);
    } catch (e) {
      scope.postMessage(
        {
          type: "error",
          seq: task.seq,
          message: (e as Error)?.message ?? String(e),
          user: e instanceof BenteviError,
        } satisfies WikiWorkerResult,
      );
    }
  };
}
