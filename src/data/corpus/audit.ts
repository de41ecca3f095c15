/**
 * `audit`: what a corpus is made of — characters, words, lines, paragraphs, the unique
 * paragraph ratio, the share of letters outside Portuguese's alphabet and outside the Latin
 * script, the most frequent words, a sentence-length histogram and encoding problems
 * (invalid UTF-8, U+FFFD, mojibake such as "Ã©", control characters). Files are read
 * streaming, paragraph by paragraph; in `.jsonl` files (wiki shards) each record's `"text"`
 * is a document, and its lines and paragraphs are the text's (the JSON around it is not
 * counted).
 *
 * @module
 */
import { BenteviError } from "../../errors.ts";
import { isJsonlPath, readDocuments } from "../../text/documents.ts";
import type { TextEncoding } from "../../text/encoding.ts";
import { listInputFiles } from "../../text/inputs.ts";
import { hash53 } from "./clean.ts";

/** One encoding problem found. */
export interface EncodingProblem {
  file: string;
  kind:
    | "invalid-utf8"
    | "replacement-char"
    | "mojibake"
    | "nul"
    | "control-char"
    | "cp1252-as-c1";
  /** Occurrences. */
  count: number;
  /**
   * First occurrence: byte offset in the file for invalid UTF-8; otherwise the character
   * offset in the file's text, or for JSONL in the text of the record on {@link line}.
   */
  first: number;
  /** JSONL: the line of the record where the first occurrence is. */
  line?: number;
}

/** The audit's figures. */
export interface AuditReport {
  files: number;
  bytes: number;
  /** JSONL records read (documents with a `"text"`); 0 when no input is JSONL. */
  records: number;
  characters: number;
  words: number;
  lines: number;
  paragraphs: number;
  uniqueParagraphRatio: number;
  letters: number;
  /** Latin letters outside the Portuguese alphabet (ñ, ß, ø…), as a share of letters. */
  nonPortugueseLatinShare: number;
  /** Letters of other scripts (Cyrillic, Greek, CJK…), as a share of letters. */
  nonLatinShare: number;
  topWords: { word: string; count: number }[];
  sentences: number;
  /** Sentences by length in words: bucket label → count. */
  sentenceLengthHistogram: Record<string, number>;
  encodingProblems: EncodingProblem[];
}

const PT_LETTERS = new Set(
  "abcdefghijklmnopqrstuvwxyzáàâãéêíóôõúüçABCDEFGHIJKLMNOPQRSTUVWXYZÁÀÂÃÉÊÍÓÔÕÚÜÇ",
);
const BUCKETS: [number, string][] = [
  [5, "1-5"],
  [10, "6-10"],
  [20, "11-20"],
  [40, "21-40"],
  [80, "41-80"],
  [Infinity, ">80"],
];
const MOJIBAKE = /Ã[\u0080-\u00bf]|â€[\u0080-\u00bf\u2018-\u201e\u2020-\u2122]|Â[\u00a0-\u00bf]/g;
// deno-lint-ignore no-control-regex -- finding control characters is the point
const CONTROL = /[\u0001-\u0008\u000b\u000c\u000e-\u001f\u007f]/g;
// deno-lint-ignore no-control-regex -- NUL characters are counted on their own
const NUL = /\u0000/g;
/** C1 characters other than NEL: Windows-1252 text decoded as ISO-8859-1 (`clean` repairs them). */
const C1 = /[\u0080-\u0084\u0086-\u009f]/g;

/** Options for {@link auditCorpus}. */
export interface AuditOptions {
  encoding?: TextEncoding;
  /** How many frequent words to list (default 20). */
  topWords?: number;
}

const PROBLEM_PATTERNS: [EncodingProblem["kind"], RegExp][] = [
  ["replacement-char", /\ufffd/g],
  ["mojibake", MOJIBAKE],
  ["nul", NUL],
  ["control-char", CONTROL],
  ["cp1252-as-c1", C1],
];
const WORD = /[\p{L}\p{N}]+(?:[-'’][\p{L}\p{N}]+)*/gu;

/**
 * Audits files and folders, streaming (a JSONL record is a document; see the module notes).
 *
 * @example
 * ```ts
 * import { auditCorpus } from "./audit.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.txt`, "O gato dorme. O cão late!\n\nO gato dorme. O cão late!\n");
 * const r = await auditCorpus([dir]);
 * console.log(r.words, r.paragraphs, r.uniqueParagraphRatio); // 10 2 0.5
 * ```
 */
export async function auditCorpus(
  inputs: string[],
  options: AuditOptions = {},
): Promise<AuditReport> {
  const files = await listInputFiles(inputs);
  const r: AuditReport = {
    files: files.length,
    bytes: 0,
    records: 0,
    characters: 0,
    words: 0,
    lines: 0,
    paragraphs: 0,
    uniqueParagraphRatio: 0,
    letters: 0,
    nonPortugueseLatinShare: 0,
    nonLatinShare: 0,
    topWords: [],
    sentences: 0,
    sentenceLengthHistogram: Object.fromEntries(BUCKETS.map(([, l]) => [l, 0])),
    encodingProblems: [],
  };
  const wordCounts = new Map<string, number>();
  const paragraphHashes = new Set<number>();
  let nonPt = 0, nonLatin = 0;
  const segmenter = new Intl.Segmenter("pt", { granularity: "sentence" });
  for (const f of files) {
    r.bytes += f.size;
    const jsonl = isJsonlPath(f.path);
    let invalidAt = -1;
    const found = new Map<EncodingProblem["kind"], EncodingProblem>();
    let offset = 0; // characters of the file's text before the current piece (text files)
    for await (
      const doc of readDocuments(f.path, {
        encoding: options.encoding,
        split: "paragraphs",
        onInvalidUtf8: (at) => invalidAt = at,
      })
    ) {
      const text = doc.text;
      if (jsonl) r.records++;
      for (const [kind, re] of PROBLEM_PATTERNS) {
        for (const m of text.matchAll(re)) {
          const p = found.get(kind);
          if (p) p.count++;
          else {
            found.set(kind, {
              file: f.path,
              kind,
              count: 1,
              first: (jsonl ? 0 : offset) + m.index!,
              ...(doc.line !== undefined ? { line: doc.line } : {}),
            });
          }
        }
      }
      offset += text.length;
      r.characters += [...text].length;
      const norm = text.replace(/\r\n?|\u0085/g, "\n");
      if (norm.length) {
        let n = 0;
        for (let i = norm.indexOf("\n"); i >= 0; i = norm.indexOf("\n", i + 1)) n++;
        r.lines += n + (norm.endsWith("\n") ? 0 : 1);
      }
      for (const block of norm.split(/\n\s*\n/)) {
        const p = block.trim();
        if (!p) continue;
        r.paragraphs++;
        paragraphHashes.add(hash53(p.replace(/\s+/g, " ")));
        for (const s of segmenter.segment(p.replace(/\s+/g, " "))) {
          const n = s.segment.match(WORD)?.length ?? 0;
          if (n === 0) continue;
          r.sentences++;
          const label = BUCKETS.find(([max]) => n <= max)![1];
          r.sentenceLengthHistogram[label]++;
        }
      }
      for (const m of norm.matchAll(WORD)) {
        r.words++;
        const w = m[0].toLowerCase();
        if (/\p{L}/u.test(w)) wordCounts.set(w, (wordCounts.get(w) ?? 0) + 1);
      }
      for (const m of norm.matchAll(/\p{L}/gu)) {
        const ch = m[0];
        r.letters++;
        if (PT_LETTERS.has(ch)) continue;
        if (/\p{Script=Latin}/u.test(ch)) nonPt++;
        else nonLatin++;
      }
    }
    // Invalid bytes were decoded as U+FFFD: report them once, as invalid UTF-8.
    const fffd = found.get("replacement-char");
    if (invalidAt >= 0) {
      r.encodingProblems.push({
        file: f.path,
        kind: "invalid-utf8",
        count: fffd?.count ?? 1,
        first: invalidAt,
      });
      found.delete("replacement-char");
    }
    for (const [kind] of PROBLEM_PATTERNS) {
      const p = found.get(kind);
      if (p) r.encodingProblems.push(p);
    }
  }
  if (r.characters === 0 && files.length > 0) {
    throw new BenteviError(`${files.map((f) => f.path).join(", ")}: empty input, nothing to audit`);
  }
  r.uniqueParagraphRatio = r.paragraphs ? paragraphHashes.size / r.paragraphs : 1;
  r.nonPortugueseLatinShare = r.letters ? nonPt / r.letters : 0;
  r.nonLatinShare = r.letters ? nonLatin / r.letters : 0;
  r.topWords = [...wordCounts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, options.topWords ?? 20).map(([word, count]) => ({ word, count }));
  return r;
}

/** A human-readable rendering of a report. */
export function formatAudit(r: AuditReport): string {
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  const lines = [
    `files        ${r.files} (${r.bytes} bytes)${r.records ? `, ${r.records} JSONL records` : ""}`,
    `characters   ${r.characters}`,
    `words        ${r.words}`,
    `lines        ${r.lines}`,
    `paragraphs   ${r.paragraphs} (unique ${pct(r.uniqueParagraphRatio)})`,
    `letters      ${r.letters}: outside the Portuguese alphabet ${
      pct(r.nonPortugueseLatinShare)
    }, non-Latin ${pct(r.nonLatinShare)}`,
    `sentences    ${r.sentences}; length in words: ${
      Object.entries(r.sentenceLengthHistogram).map(([k, v]) => `${k}: ${v}`).join(", ")
    }`,
    `top words    ${r.topWords.map((w) => `${w.word} ${w.count}`).join(", ")}`,
  ];
  if (r.encodingProblems.length === 0) lines.push("encoding     no problems found");
  for (const p of r.encodingProblems) {
    lines.push(
      `encoding     ${p.file}: ${p.kind} ×${p.count} (first at ${
        p.kind === "invalid-utf8" ? "byte" : p.line ? `line ${p.line}, character` : "character"
      } ${p.first})${
        p.kind === "cp1252-as-c1"
          ? ": Windows-1252 text read as ISO-8859-1; `clean` repairs it (U+0097 → —)"
          : p.kind === "nul"
          ? ": NUL characters (U+0000); `dataset build` and `tokenizer train` leave them out"
          : ""
      }`,
    );
  }
  return lines.join("\n");
}
