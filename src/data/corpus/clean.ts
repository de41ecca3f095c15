/**
 * `clean`: Unicode NFC, control characters removed (CRLF, CR, NEL, U+2028/2029 become `\n`;
 * other C1 characters, which in real text are Windows-1252 bytes read as ISO-8859-1, become the
 * characters they stand for: U+0097 → "—"),
 * whitespace folded, exact duplicate paragraphs removed (by hash, across all inputs) and
 * too-short paragraphs dropped. Paragraphs are blocks separated by blank lines; line breaks
 * inside a paragraph (verse, hard-wrapped prose) are kept.
 *
 * @module
 */
import { join } from "node:path";
import { BenteviError } from "../../errors.ts";
import { writeFileAtomic } from "../../io/atomic.ts";
import { type Progress, silentProgress } from "../../progress.ts";
import { type CorpusEncoding, listInputs, readCorpusFile } from "./text.ts";

/** What {@link cleanText} removed or changed. */
export interface CleanStats {
  files: number;
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

/** Fresh counters. */
export function emptyCleanStats(): CleanStats {
  return {
    files: 0,
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
  encoding?: CorpusEncoding;
  minChars?: number;
  dedupMinChars?: number;
  progress?: Progress;
}

/**
 * Cleans files and folders into `output` (same relative names, UTF-8), deduplicating
 * paragraphs across all of them. Each output file is written atomically.
 *
 * @example
 * ```ts
 * import { cleanCorpus } from "./clean.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.txt`, "Um parágrafo suficientemente longo.\n");
 * const stats = await cleanCorpus([`${dir}/a.txt`], { output: `${dir}/out` });
 * console.log(stats.paragraphsOut); // 1
 * ```
 */
export async function cleanCorpus(
  inputs: string[],
  options: CleanCorpusOptions,
): Promise<CleanStats> {
  const files = await listInputs(inputs);
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
  const stats = emptyCleanStats();
  const seen = new Set<number>();
  const progress = options.progress ?? silentProgress;
  progress.start("clean", files.length, "files");
  // Check every input first, so that a bad file fails before any output is written.
  for (const f of files) await readCorpusFile(f.path, options.encoding ?? "utf-8");
  for (const [i, f] of files.entries()) {
    const text = await readCorpusFile(f.path, options.encoding ?? "utf-8");
    const cleaned = cleanText(text, {
      minChars: options.minChars,
      dedupMinChars: options.dedupMinChars,
      seen,
      stats,
    });
    await writeFileAtomic(join(options.output, f.name), cleaned);
    stats.files++;
    progress.update(i + 1);
  }
  progress.end(summarizeClean(stats));
  return stats;
}

/** One-line summary of a clean run. */
export function summarizeClean(s: CleanStats): string {
  return `${s.files} file(s): ${s.inputChars} → ${s.outputChars} characters; ${s.paragraphsOut}/${s.paragraphsIn} paragraphs kept, ${s.duplicateParagraphs} duplicates and ${s.shortParagraphs} too-short removed, ${s.controlCharsRemoved} control characters removed, ${s.cp1252Repaired} Windows-1252 characters repaired, ${s.lineEndingsNormalized} line endings normalised${
    s.nfcChanged ? ", NFC applied" : ""
  }`;
}
