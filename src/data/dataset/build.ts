/**
 * `dataset build`: text → tokens → `PREFIX.train.bin` and `PREFIX.val.bin` in llm.c's format.
 * Documents are assigned to train or val by a hash of their text (deterministic, independent
 * of order and worker count); the end-of-text token precedes every document, so documents
 * are separated by it. Documents are read streaming by `readDocuments` (src/text): a `.jsonl`
 * record's `"text"`, or a block of a text file between two or more blank lines — a long one in
 * pieces of about 1 Mi characters, cut where the pieces tokenize as the whole, so memory stays
 * bounded by a few pieces and their tokens whatever the document's size (a long document goes
 * to train or val by its first piece's hash). Tokenizing runs in parallel Workers; output
 * stays in input order.
 *
 * @module
 */
import { BenteviError, fsError } from "../../errors.ts";
import { refuseOutputOverInputs } from "../../io/fs.ts";
import { type Progress, silentProgress } from "../../progress.ts";
import { Tokenizer } from "../../tokenizer/mod.ts";
import { hash53 } from "../corpus/clean.ts";
import { readDocuments, type TextDocument } from "../../text/documents.ts";
import type { TextEncoding } from "../../text/encoding.ts";
import { listInputFiles } from "../../text/inputs.ts";
import { TokenDatasetWriter } from "./writer.ts";
import { type NewlineFlags, newlineFlags as flagsOf, splitTail } from "./split.ts";
import type { DatasetWorkerRequest, DatasetWorkerResponse } from "./worker.ts";

/** Options for {@link buildDataset}. */
export interface BuildDatasetOptions {
  /** `tokenizer.json` path. */
  tokenizer: string;
  /** Output prefix: writes `PREFIX.train.bin` and `PREFIX.val.bin`. */
  output: string;
  /** Share of documents that go to validation (default 0.05). */
  valFraction?: number;
  /** Tokenizing Workers (default 1: in-process; at most one per 2 MiB of input). */
  workers?: number;
  /** Input bytes per Worker started (default 2 MiB). */
  minBytesPerWorker?: number;
  /** Input encoding (default utf-8). */
  encoding?: TextEncoding;
  progress?: Progress;
}

/** What {@link buildDataset} wrote. */
export interface BuildDatasetResult {
  train: { path: string; tokens: number; documents: number };
  val: { path: string; tokens: number; documents: number };
  vocabSize: number;
  version: 1 | 2;
  endOfTextId: number;
  inputBytes: number;
  seconds: number;
  workers: number;
  /**
   * NUL characters (U+0000) left out of the text: stray bytes of binary or UTF-16 data, never
   * text to train on (the CLI says how many when there are some).
   */
  nulCharacters: number;
  /**
   * One line saying how the validation split was made when the documents were too few for
   * the hash to pick any (the last document held out, or the text cut at a paragraph, line
   * or token boundary); absent when the split is the usual one.
   */
  notice?: string;
}

/** Whether a document goes to validation: its text's hash decides, deterministically. */
export function isValidationDocument(text: string, valFraction: number): boolean {
  return hash53(text) / 9007199254740992 < valFraction;
}

/** The newline flags of a tokenizer's ids (see `splitTail`). */
function newlineFlags(tokenizer: Tokenizer): NewlineFlags {
  return flagsOf(tokenizer.vocabSize, (id) => tokenizer.decode([id]));
}

interface Batch {
  seq: number;
  docs: TextDocument[];
}

async function* batches(
  files: string[],
  encoding: TextEncoding,
  onNul: (count: number) => void,
): AsyncGenerator<Batch> {
  let seq = 0;
  let docs: TextDocument[] = [];
  let chars = 0;
  for (const f of files) {
    for await (const d of readDocuments(f, { encoding, onNul })) {
      docs.push(d);
      chars += d.text.length;
      if (chars >= 256 << 10) {
        yield { seq: seq++, docs };
        docs = [];
        chars = 0;
      }
    }
  }
  if (docs.length) yield { seq: seq++, docs };
}

class EncoderPool {
  #workers: Worker[] = [];
  #pending = new Map<number, { resolve: (t: Uint32Array[]) => void; reject: (e: Error) => void }>();
  #next = 0;

  static async create(n: number, json: string, name: string): Promise<EncoderPool> {
    const pool = new EncoderPool();
    const ready: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      const w = new Worker(new URL("./worker.ts", import.meta.url).href, { type: "module" });
      pool.#workers.push(w);
      ready.push(
        new Promise((resolve, reject) => {
          w.onmessage = (ev: MessageEvent<DatasetWorkerResponse>) => {
            const m = ev.data;
            if (m.type === "ready") resolve();
            else if (m.type === "encoded") {
              pool.#pending.get(m.seq)?.resolve(m.tokens);
              pool.#pending.delete(m.seq);
            } else {
              const err = m.user ? new BenteviError(m.message) : new Error(m.message);
              reject(err);
              for (const p of pool.#pending.values()) p.reject(err);
              pool.#pending.clear();
            }
          };
          w.onerror = (ev) => {
            ev.preventDefault();
            const err = new Error(`dataset worker failed: ${ev.message}`);
            reject(err);
            for (const p of pool.#pending.values()) p.reject(err);
            pool.#pending.clear();
          };
        }),
      );
      w.postMessage({ type: "init", tokenizerJson: json, name } satisfies DatasetWorkerRequest);
    }
    try {
      await Promise.all(ready);
    } catch (e) {
      pool.close();
      throw e;
    }
    return pool;
  }

  encode(seq: number, texts: string[]): Promise<Uint32Array[]> {
    const w = this.#workers[this.#next++ % this.#workers.length];
    const p = new Promise<Uint32Array[]>((resolve, reject) => {
      this.#pending.set(seq, { resolve, reject });
    });
    w.postMessage({ type: "encode", seq, texts } satisfies DatasetWorkerRequest);
    return p;
  }

  close(): void {
    for (const w of this.#workers) w.terminate();
    this.#workers = [];
  }
}

/**
 * Tokenizes files and folders into train/val token files.
 *
 * @example
 * ```ts ignore
 * import { buildDataset } from "./build.ts";
 * const r = await buildDataset(["out/wiki"], { tokenizer: "tok.json", output: "out/ptwiki" });
 * console.log(r.train.tokens, r.val.tokens);
 * ```
 */
export async function buildDataset(
  inputs: string[],
  options: BuildDatasetOptions,
): Promise<BuildDatasetResult> {
  const t0 = performance.now();
  const valFraction = options.valFraction ?? 0.05;
  if (!(valFraction >= 0 && valFraction < 1)) {
    throw new BenteviError(`--val-fraction must be in [0, 1), got ${valFraction}`);
  }
  let json: string;
  try {
    json = await Deno.readTextFile(options.tokenizer);
  } catch (e) {
    throw fsError(e, options.tokenizer);
  }
  const tokenizer = Tokenizer.fromJSON(json, options.tokenizer);
  const eot = tokenizer.endOfTextId;
  if (eot === undefined) {
    throw new BenteviError(
      `${options.tokenizer}: the tokenizer has no end-of-text token (<|endoftext|>, [EOS] or </s>); train it with one`,
    );
  }
  const inputFiles = await listInputFiles(inputs);
  const files = inputFiles.map((f) => f.path);
  const total = inputFiles.reduce((s, f) => s + f.size, 0);
  // A Worker costs a tokenizer load (about half a second for GPT-2's): not worth it for small
  // inputs, so use at most one per 2 MiB of input.
  const perWorker = options.minBytesPerWorker ?? 2 << 20;
  const workers = Math.max(1, Math.min(options.workers ?? 1, Math.floor(total / perWorker)));
  const progress = options.progress ?? silentProgress;
  const trainPath = `${options.output}.train.bin`;
  const valPath = `${options.output}.val.bin`;
  await refuseOutputOverInputs([trainPath, valPath], [...inputs, options.tokenizer]);
  const train = await TokenDatasetWriter.create(trainPath, { vocabSize: tokenizer.vocabSize });
  let val: TokenDatasetWriter;
  try {
    val = await TokenDatasetWriter.create(valPath, { vocabSize: tokenizer.vocabSize });
  } catch (e) {
    await train.abort();
    throw e;
  }
  let pool: EncoderPool | null = null;
  let notice: string | undefined;
  let trainDocs = 0, valDocs = 0, done = 0;
  let lastTrainStart = 0; // where the last training document begins, in tokens
  let isVal = false; // where the current document goes
  let nulCharacters = 0;
  const onNul = (n: number) => nulCharacters += n;
  let lastValStart = 0; // where the last validation document begins, in tokens
  progress.start("dataset", Math.max(1, Math.round(total / 1e6)), "MB");
  const write = async (docs: TextDocument[], tokens: ArrayLike<number>[]) => {
    for (let i = 0; i < docs.length; i++) {
      const ids = tokens[i];
      if (docs[i].continues) {
        // A further piece of a long document: its tokens follow the piece before.
        await (isVal ? val : train).append(ids);
        done += docs[i].bytes;
        continue;
      }
      // A long document goes where its first piece's hash says (the whole text is never held).
      isVal = isValidationDocument(docs[i].text, valFraction);
      const w = isVal ? val : train;
      if (isVal) lastValStart = val.count;
      else lastTrainStart = train.count;
      const out = new Uint32Array(ids.length + 1);
      out[0] = eot;
      out.set(ids as ArrayLike<number>, 1);
      await w.append(out);
      if (isVal) valDocs++;
      else trainDocs++;
      done += docs[i].bytes;
    }
    progress.update(
      Math.round(done / 1e6),
      `${train.count + val.count} tokens, ${trainDocs + valDocs} documents`,
    );
  };
  try {
    if (workers > 1) {
      pool = await EncoderPool.create(workers, json, options.tokenizer);
      const inFlight: { docs: TextDocument[]; result: Promise<Uint32Array[]> }[] = [];
      for await (const batch of batches(files, options.encoding ?? "utf-8", onNul)) {
        const result = pool.encode(batch.seq, batch.docs.map((d) => d.text));
        result.catch(() => {}); // awaited below; avoids an unhandled rejection on early exit
        inFlight.push({ docs: batch.docs, result });
        // keep every worker busy, but bound memory: write the oldest batch first
        while (inFlight.length >= workers * 2) {
          const b = inFlight.shift()!;
          await write(b.docs, await b.result);
        }
      }
      for (const b of inFlight) await write(b.docs, await b.result);
    } else {
      for await (const batch of batches(files, options.encoding ?? "utf-8", onNul)) {
        await write(batch.docs, batch.docs.map((d) => tokenizer.encode(d.text)));
      }
    }
    if (trainDocs + valDocs === 0) {
      throw new BenteviError(`no documents found in ${inputs.join(", ")}`);
    }
    const all = train.count + val.count;
    if (valFraction > 0 && (valDocs === 0 || trainDocs === 0) && all >= 2) {
      // Too few documents for the hash to split them: one side is empty, and `train` would
      // refuse the dataset. Gather everything in train, then hold out the last document when
      // that leaves train the larger part, else cut the text near the wanted share.
      const docs = trainDocs + valDocs;
      if (trainDocs === 0) {
        await train.append(await val.takeTail(0));
        lastTrainStart = lastValStart;
        trainDocs = valDocs;
        valDocs = 0;
      }
      const n = train.count;
      const wanted = Math.max(1, Math.round(valFraction * n));
      const what = `${docs} document${docs === 1 ? "" : "s"}`;
      if (trainDocs >= 2 && n - lastTrainStart <= n / 2) {
        await val.append(await train.takeTail(lastTrainStart));
        trainDocs--;
        valDocs++;
        notice = `${what}: too few to draw validation documents by hash; held out the last ` +
          `document (${val.count} tokens) for validation`;
      } else {
        const from = Math.max(0, n - wanted - Math.ceil(wanted / 2) - 2);
        const tail = await train.takeTail(from);
        const split = splitTail(tail, wanted, { flags: newlineFlags(tokenizer) });
        await train.append(tail.subarray(0, split.cut));
        const rest = new Uint32Array(tail.length - split.cut + 1);
        rest[0] = eot;
        rest.set(tail.subarray(split.cut), 1);
        await val.append(rest);
        valDocs = 1;
        notice = `${what}: too few to hold whole documents out; split the text at a ${
          split.boundary === "token" ? "token boundary (no paragraph or line break near it)" : (
            split.boundary + " break"
          )
        }: the last ${tail.length - split.cut} tokens (${
          (100 * (tail.length - split.cut) / n).toFixed(1)
        }%) are the validation split`;
      }
    }
    await train.finish();
    await val.finish();
  } catch (e) {
    await train.abort();
    await val.abort();
    progress.end("failed");
    throw e;
  } finally {
    pool?.close();
  }
  const result: BuildDatasetResult = {
    train: { path: trainPath, tokens: train.count, documents: trainDocs },
    val: { path: valPath, tokens: val.count, documents: valDocs },
    vocabSize: tokenizer.vocabSize,
    version: train.version,
    endOfTextId: eot,
    inputBytes: total,
    seconds: (performance.now() - t0) / 1000,
    workers,
    nulCharacters,
    ...(notice !== undefined ? { notice } : {}),
  };
  progress.end(
    `${result.train.tokens} train tokens (${trainDocs} documents), ${result.val.tokens} val tokens (${valDocs} documents)`,
  );
  return result;
}
