/**
 * `clean`: Unicode NFC, control characters removed (CRLF, CR, NEL, U+2028/2029 become `\n`;
 * other C1 characters, which in real text are Windows-1252 bytes read as ISO-8859-1, become the
 * characters they stand for: U+0097 → "—"),
 * whitespace folded, exact duplicate paragraphs removed (by hash, across all inputs) and
 * too-short paragraphs dropped. Paragraphs are blocks separated by blank lines; line breaks
 * inside a paragraph (verse, hard-wrapped prose) are kept. Files are read streaming,
 * paragraph by paragraph. A `.jsonl` file (wiki shards) is cleaned record by record and
 * written back as JSONL: each record keeps its other fields (`id`, `title`…) and gets the
 * cleaned `"text"`; a record with nothing left is dropped.
 *
 * @module
 */
import { join } from "node:path";
import { BenteviError } from "../../errors.ts";
import { withAtomicFile } from "../../io/atomic.ts";
import { refuseOutputOverInputs } from "../../io/fs.ts";
import { type Progress, silentProgress } from "../../progress.ts";
import { isJsonlPath, readDocuments } from "../../text/documents.ts";
import type { TextEncoding } from "../../text/encoding.ts";
import { listInputFiles } from "../../text/inputs.ts";

/** What {@link cleanText} removed or changed. */
export interface CleanStats {
  files: number;
  /** JSONL records read. */
  records: number;
  /** JSONL records dropped because nothing was left of their text. */
  recordsDropped: number;
  inputChars: number;
  outputChars: number;
  paragraphsIn: number;
  paragraphsOut: number;
  duplicateParagraphs: number;
  shortParagraphs: number;
  controlCharsRemoved: number;
  /** C1 characters (U+0080–U+009F) repaired to the Windows-1252 characters they stand for. */
  cp1252Repaired: number;
  lineEndingsNormalized: number;
  nfcChanged: boolean;
}

/**
 * Fresh counters.
 *
 * @example
 * ```ts
 * import { cleanText, emptyCleanStats } from "./clean.ts";
 * const stats = emptyCleanStats();
 * cleanText("Um parágrafo longo o bastante.\n\nUm parágrafo longo o bastante.\n", { stats, dedupMinChars: 5 });
 * console.log(stats.duplicateParagraphs); // 1
 * ```
 */
export function emptyCleanStats(): CleanStats {
  return {
    files: 0,
    records: 0,
    recordsDropped: 0,
    inputChars: 0,
    outputChars: 0,
    paragraphsIn: 0,
    paragraphsOut: 0,
    duplicateParagraphs: 0,
    shortParagraphs: 0,
    controlCharsRemoved: 0,
    cp1252Repaired: 0,
    lineEndingsNormalized: 0,
    nfcChanged: false,
  };
}

/** A 53-bit string hash (cyrb53) for duplicate detection. */
export function hash53(s: string): number {
  let h1 = 0xdeadbeef, h2 = 0x41c6ce57;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/** A dialogue line or a complete sentence: kept however short. */
function isShortProse(p: string): boolean {
  return /^[—–―-]\s*\S/.test(p) || /\p{L}.*[.!?…]["'”»’)]*$/su.test(p);
}

/** Options for {@link cleanText}. */
export interface CleanTextOptions {
  /**
   * Paragraphs shorter than this (in characters) are dropped (default 20) — unless they are a
   * complete sentence or a dialogue line ("— Eu?"), which short as they are, are prose.
   */
  minChars?: number;
  /**
   * Only paragraphs at least this long are deduplicated (default 32), so that repeated short
   * lines of dialogue or verse survive while repeated boilerplate goes.
   */
  dedupMinChars?: number;
  /** Hashes of paragraphs already seen (shared across files to dedupe a whole corpus). */
  seen?: Set<number>;
  /** Counters to add to. */
  stats?: CleanStats;
}

/** Windows-1252's characters for bytes 0x80–0x9F ("" where it has none). */
export const CP1252 = [
  "€",
  "",
  "‚",
  "ƒ",
  "„",
  "…",
  "†",
  "‡",
  "ˆ",
  "‰",
  "Š",
  "‹",
  "Œ",
  "",
  "Ž",
  "",
  "",
  "‘",
  "’",
  "“",
  "”",
  "•",
  "–",
  "—",
  "˜",
  "™",
  "š",
  "›",
  "œ",
  "",
  "ž",
  "Ÿ",
];

// C0/C1 controls except \t and \n, plus BOM, soft hyphen and zero-width space.
const CONTROL =
  // deno-lint-ignore no-control-regex -- removing control characters is the point
  /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u0084\u0086-\u009f\ufeff\u00ad\u200b]/g;

/**
 * Cleans one text; returns paragraphs separated by one blank line, ending with `\n`
 * (or "" when nothing is left).
 *
 * @example
 * ```ts
 * import { cleanText } from "./clean.ts";
 * const text = "Olá,\r\n  mundo!\r\n\r\nOlá,\r\n  mundo!\r\n\r\nCurto";
 * const out = cleanText(text, { minChars: 8, dedupMinChars: 5 });
 * console.log(JSON.stringify(out)); // "\"Olá,\\nmundo!\\n\""
 * ```
 */
export function cleanText(text: string, options: CleanTextOptions = {}): string {
  const stats = options.stats ?? emptyCleanStats();
  const seen = options.seen ?? new Set<number>();
  const minChars = options.minChars ?? 20;
  const dedupMinChars = options.dedupMinChars ?? 32;
  stats.inputChars += text.length;
  let t = text.replace(/\r\n|\r|\u0085|\u2028|\u2029/g, () => {
    stats.lineEndingsNormalized++;
    return "\n";
  });
  const nfc = t.normalize("NFC");
  if (nfc !== t) stats.nfcChanged = true;
  // C1 "controls" in real text are Windows-1252 bytes decoded as ISO-8859-1 (U+0097 for "—",
  // U+0093/U+0094 for quotes…): put the intended characters back (U+0085 became \n above).
  t = nfc.replace(/[\u0080-\u009f]/g, (c) => {
    const fixed = CP1252[c.charCodeAt(0) - 0x80];
    if (!fixed) return c;
    stats.cp1252Repaired++;
    return fixed;
  });
  t = t.replace(CONTROL, () => {
    stats.controlCharsRemoved++;
    return "";
  });
  const out: string[] = [];
  for (const block of t.split(/\n[ \t\u00a0\u3000]*(?:\n[ \t\u00a0\u3000]*)+/)) {
    const lines = block.split("\n").map((l) =>
      l.replace(/[\t \u00a0\u2000-\u200a\u202f\u205f\u3000]+/g, " ").trim()
    ).filter((l) => l.length > 0);
    if (lines.length === 0) continue;
    stats.paragraphsIn++;
    const p = lines.join("\n");
    if (p.length < minChars && !isShortProse(p)) {
      stats.shortParagraphs++;
      continue;
    }
    if (p.length >= dedupMinChars) {
      const h = hash53(p);
      if (seen.has(h)) {
        stats.duplicateParagraphs++;
        continue;
      }
      seen.add(h);
    }
    out.push(p);
    stats.paragraphsOut++;
  }
  const result = out.length ? out.join("\n\n") + "\n" : "";
  stats.outputChars += result.length;
  return result;
}

/** Options for {@link cleanCorpus}. */
export interface CleanCorpusOptions {
  output: string;
  encoding?: TextEncoding;
  minChars?: number;
  dedupMinChars?: number;
  progress?: Progress;
}

/** Buffers text and writes it to a file as UTF-8 in large writes. */
class TextSink {
  #parts: string[] = [];
  #chars = 0;
  #encoder = new TextEncoder();
  constructor(private readonly file: Deno.FsFile) {}
  async write(s: string): Promise<void> {
    this.#parts.push(s);
    this.#chars += s.length;
    if (this.#chars >= 1 << 20) await this.flush();
  }
  async flush(): Promise<void> {
    const bytes = this.#encoder.encode(this.#parts.join(""));
    this.#parts = [];
    this.#chars = 0;
    for (let off = 0; off < bytes.length;) off += await this.file.write(bytes.subarray(off));
  }
}

/**
 * Cleans files and folders into `output` (same relative names, UTF-8), deduplicating
 * paragraphs across all of them, streaming. A `.jsonl` input gives a `.jsonl` output: the
 * same records with their other fields, each `"text"` cleaned (without the final newline), and
 * records left empty dropped. Every input is checked (encoding, JSON) before anything is
 * written, and each output file is written atomically.
 *
 * @example
 * ```ts
 * import { cleanCorpus } from "./clean.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.txt`, "Um parágrafo suficientemente longo.\n");
 * await Deno.writeTextFile(`${dir}/b.jsonl`, '{"id":"7","text":"Outro  parágrafo, em JSONL.\\r\\n"}\n');
 * const stats = await cleanCorpus([`${dir}/a.txt`, `${dir}/b.jsonl`], { output: `${dir}/out` });
 * console.log(stats.paragraphsOut); // 2
 * console.log(await Deno.readTextFile(`${dir}/out/b.jsonl`)); // {"id":"7","text":"Outro parágrafo, em JSONL."}
 * ```
 */
export async function cleanCorpus(
  inputs: string[],
  options: CleanCorpusOptions,
): Promise<CleanStats> {
  const files = await listInputFiles(inputs);
  const names = new Set<string>();
  for (const f of files) {
    if (names.has(f.name)) {
      throw new BenteviError(
        `two inputs would both be written as ${
          join(options.output, f.name)
        }; clean them separately`,
      );
    }
    names.add(f.name);
  }
  await refuseOutputOverInputs(files.map((f) => join(options.output, f.name)), inputs);
  const stats = emptyCleanStats();
  const seen = new Set<number>();
  const progress = options.progress ?? silentProgress;
  const read = { encoding: options.encoding, split: "paragraphs" as const };
  const textOptions = {
    minChars: options.minChars,
    dedupMinChars: options.dedupMinChars,
    seen,
    stats,
  };
  // Check every input first, so that a bad file fails before any output is written.
  for (const f of files) for await (const _ of readDocuments(f.path, read)) { /* check only */ }
  progress.start("clean", files.length, "files");
  for (const [i, f] of files.entries()) {
    const jsonl = isJsonlPath(f.path);
    await withAtomicFile(join(options.output, f.name), async (file) => {
      const out = new TextSink(file);
      let empty = true;
      for await (const doc of readDocuments(f.path, read)) {
        const cleaned = cleanText(doc.text, textOptions);
        if (jsonl) {
          stats.records++;
          if (!cleaned) {
            stats.recordsDropped++;
            continue;
          }
          stats.outputChars--; // the record's text does not end with the final "\n"
          await out.write(JSON.stringify({ ...doc.record, text: cleaned.slice(0, -1) }) + "\n");
        } else if (cleaned) {
          // Pieces of one file: paragraphs stay separated by one blank line.
          if (!empty) stats.outputChars++;
          await out.write(empty ? cleaned : "\n" + cleaned);
          empty = false;
        }
      }
      await out.flush();
    });
    stats.files++;
    progress.update(i + 1);
  }
  progress.end(summarizeClean(stats));
  return stats;
}

/** One-line summary of a clean run. */
export function summarizeClean(s: CleanStats): string {
  const records = s.records
    ? ` (${s.records - s.recordsDropped}/${s.records} JSONL records kept)`
    : "";
  return `${s.files} file(s)${records}: ${s.inputChars} → ${s.outputChars} characters; ${s.paragraphsOut}/${s.paragraphsIn} paragraphs kept, ${s.duplicateParagraphs} duplicates and ${s.shortParagraphs} too-short removed, ${s.controlCharsRemoved} control characters removed, ${s.cp1252Repaired} Windows-1252 characters repaired, ${s.lineEndingsNormalized} line endings normalised${
    s.nfcChanged ? ", NFC applied" : ""
  }`;
}
