/**
 * Counting pre-tokenized pieces for training: text is cut into lines (each keeps its "\n", as
 * Hugging Face's trainer reads files; a line over 1 Mi characters into pieces that give the
 * same pieces, see `findTextCut`), normalized and pre-tokenized, and only the count of
 * each distinct piece is kept. A text file is one continuous text; in a `.jsonl` file each
 * record's `"text"` is a text of its own (as if given as one string of an async iterable).
 * Used on the main thread and by the counting Workers.
 *
 * @module
 */
import { isJsonlPath, readDocuments } from "../text/documents.ts";
import { type TextEncoding, utf16Bom } from "../text/encoding.ts";
import { findTextCut } from "../text/cut.ts";
import { readTextChunks } from "../text/read.ts";
import { normalizerFromSpec } from "./normalizer.ts";
import { PreTokenizer } from "./pre_tokenizer.ts";
import { spmPieces } from "./sentencepiece.ts";

/**
 * A line longer than this (UTF-16 units) is counted in pieces of about this size, cut by
 * `findTextCut`, so that a file without line breaks costs a bounded buffer.
 */
const MAX_LINE = 1 << 20;

/** Distinct pre-tokenized pieces and how often each occurs. */
export type PieceCounts = Map<string, number>;

/** What changes how text is cut into pieces. */
export interface CountOptions {
  /** Normalizer spec (see `normalizerFromSpec`). */
  normalize?: string;
  /** Pre-tokenizer regex. */
  preTokenizer?: "gpt2" | "gpt4";
  /** Special tokens: cut out of the text, never learned. */
  specialTokens: string[];
  /**
   * `sentencepiece`: a line is cut into `▁` words (see `spmPieces`) instead of by the
   * byte-level regex.
   */
  style?: "byte-level" | "sentencepiece";
}

/**
 * A part of one file to count: lines starting at a byte offset in `[start, end)` (for JSONL,
 * the records on those lines).
 */
export interface FileSegment {
  /** The file. */
  path: string;
  /** First byte offset. */
  start: number;
  /** End byte offset. */
  end: number;
}

/** Counts the pieces of a stream of texts. */
export class PieceCounter {
  /** The counts so far. */
  readonly counts: PieceCounts = new Map();
  private carry = "";
  private readonly line: (text: string) => void;
  private readonly specials: string[];
  private readonly specialRe: RegExp | undefined;
  private readonly longestSpecial: number;

  constructor(options: CountOptions) {
    const normalizer = normalizerFromSpec(options.normalize);
    const pre = options.preTokenizer === "gpt4" ? PreTokenizer.gpt4() : PreTokenizer.gpt2();
    const split = options.style === "sentencepiece"
      ? spmPieces
      : (text: string, fn: (piece: string) => void) => pre.forEachPiece(text, fn);
    const counts = this.counts;
    const count = (piece: string) => {
      counts.set(piece, (counts.get(piece) ?? 0) + 1);
    };
    this.line = normalizer
      ? (text) => split(normalizer.normalize(text), count)
      : (text) => split(text, count);
    this.specials = options.specialTokens;
    this.longestSpecial = Math.max(0, ...this.specials.map((t) => t.length));
    this.specialRe = this.specials.length
      ? new RegExp(
        this.specials.map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|"),
        "g",
      )
      : undefined;
  }

  /** Adds the next chunk of a continuous text (a file read in parts). */
  push(text: string): void {
    this.carry = this.feed(this.carry + text, false);
  }

  /** Ends the current text (end of a file or of a document). */
  end(): void {
    this.feed(this.carry, true);
    this.carry = "";
  }

  private feed(text: string, final: boolean): string {
    if (this.specialRe && this.specials.some((s) => text.includes(s))) {
      const parts = text.split(this.specialRe);
      for (let i = 0; i < parts.length - 1; i++) this.feedLines(parts[i], true);
      return this.feedLines(parts[parts.length - 1], final);
    }
    return this.feedLines(text, final);
  }

  private feedLines(text: string, final: boolean): string {
    let start = 0;
    for (let nl = text.indexOf("\n"); nl >= 0; nl = text.indexOf("\n", start)) {
      this.line(text.slice(start, nl + 1));
      start = nl + 1;
    }
    const rest = text.slice(start);
    if (final) {
      if (rest) this.line(rest);
      return "";
    }
    if (rest.length > MAX_LINE) {
      // One endless line (a file without line breaks): count all but its end now, cut where
      // the pieces are those of the whole line, and never inside a special token.
      const limit = rest.length - this.longestSpecial;
      const at = findTextCut(rest.slice(0, limit), limit >> 1)!.at;
      this.line(rest.slice(0, at));
      return rest.slice(at);
    }
    return rest;
  }
}

/**
 * Counts the lines of `segments` into `counter`: a text file's chunks as one continuous text,
 * a JSONL file's records each as a text of its own. With `onNul`, NUL characters are left
 * out of the text and counted there.
 */
export async function countSegments(
  segments: FileSegment[],
  counter: PieceCounter,
  encoding: TextEncoding,
  onBytes?: (n: number) => void,
  onNul?: (count: number) => void,
): Promise<void> {
  for (const s of segments) {
    const read = { encoding, onBytes, onNul, range: { start: s.start, end: s.end } };
    if (encoding === "utf-8" && await startsWithUtf16Bom(s.path)) {
      // UTF-16 cannot be cut at "\n" bytes: the segment at its start reads it all.
      if (s.start > 0) continue;
      read.range.end = Infinity;
    }
    if (isJsonlPath(s.path)) {
      for await (const doc of readDocuments(s.path, read)) {
        counter.push(doc.text);
        counter.end();
      }
      continue;
    }
    for await (const chunk of readTextChunks(s.path, read)) counter.push(chunk);
    counter.end();
  }
}

async function startsWithUtf16Bom(path: string): Promise<boolean> {
  let file: Deno.FsFile;
  try {
    if (!(await Deno.stat(path)).isFile) return false; // never read ahead in a FIFO
    file = await Deno.open(path);
  } catch {
    return false; // reading it says what is wrong
  }
  try {
    const head = new Uint8Array(2);
    const n = await file.read(head);
    return n === 2 && utf16Bom(head) !== undefined;
  } catch {
    return false;
  } finally {
    file.close();
  }
}

/**
 * Splits files (in order) into `parts` runs of about equal bytes, cut on byte offsets that
 * {@link countSegments} turns into line boundaries (so a JSONL run is a run of whole records).
 */
export function splitSegments(
  files: { path: string; size: number }[],
  parts: number,
): FileSegment[][] {
  const total = files.reduce((s, f) => s + f.size, 0);
  const out: FileSegment[][] = [];
  for (let k = 0; k < parts; k++) {
    const gs = Math.floor(total * k / parts);
    const ge = k === parts - 1 ? total : Math.floor(total * (k + 1) / parts);
    const segs: FileSegment[] = [];
    let f0 = 0;
    for (const f of files) {
      const f1 = f0 + f.size;
      const s = Math.max(gs, f0);
      const e = Math.min(ge, f1);
      if (s < e) segs.push({ path: f.path, start: s - f0, end: e - f0 });
      f0 = f1;
    }
    out.push(segs);
  }
  return out;
}
