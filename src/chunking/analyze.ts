/**
 * Chunk quality analysis (`chunk analyze`): size statistics, how many chunks start and end on
 * sentence boundaries, lexical cohesion within chunks versus across their boundaries, a check
 * of the offsets against the source, and concrete suggestions.
 *
 * @module
 */
import { BenteviError } from "../errors.ts";
import { charClasses, DASH, DIGIT, SPACE, UPPER } from "../text/chars.ts";
import { BOUNDARY, findBoundaries } from "../text/sentences.ts";
import { bagOf, cosine, wordHashes } from "./lexical.ts";
import type { Chunk } from "./types.ts";

const SENT_END = new Set([".", "!", "?", "…", '"']);

/**
 * Whether a chunk ends a sentence: its last non-space character is `.`, `!`, `?`, `…` or `"`,
 * or it is the last chunk (the measure LangChain and chonkie are compared on).
 *
 * @example
 * ```ts
 * import { endsOnSentence } from "./analyze.ts";
 * console.log(endsOnSentence("Fim. ", false), endsOnSentence("meio de", false)); // true false
 * ```
 */
export function endsOnSentence(text: string, isLast: boolean): boolean {
  if (isLast) return true;
  const T = charClasses();
  let k = text.length - 1;
  while (k >= 0 && (T[text.charCodeAt(k)] & SPACE) !== 0) k--;
  return k >= 0 && SENT_END.has(text[k]);
}

/**
 * Share of chunks that {@link endsOnSentence} (0 for no chunks).
 *
 * @example
 * ```ts
 * import { sentenceEndShare } from "./analyze.ts";
 * console.log(sentenceEndShare([{ text: "a b" }, { text: "c." }])); // 0.5
 * ```
 */
export function sentenceEndShare(chunks: { text: string }[]): number {
  if (chunks.length === 0) return 0;
  let ok = 0;
  for (let i = 0; i < chunks.length; i++) {
    if (endsOnSentence(chunks[i].text, i === chunks.length - 1)) ok++;
  }
  return ok / chunks.length;
}

/**
 * Parses chunk JSONL (as `chunk` writes it), rejecting anything else with a one-line
 * {@link BenteviError} that names the file and line.
 *
 * @example
 * ```ts
 * import { parseChunksJsonl } from "./analyze.ts";
 * const c = parseChunksJsonl('{"index":0,"start":0,"end":2,"tokens":2,"text":"Oi"}\n', "c.jsonl");
 * console.log(c[0].text); // "Oi"
 * ```
 */
export function parseChunksJsonl(jsonl: string, path: string): Chunk[] {
  const out: Chunk[] = [];
  const lines = jsonl.split("\n");
  const bad = (line: number, why: string) =>
    new BenteviError(
      `${path}:${line}: not chunk output (${why}); expected one {"index","start","end","tokens","text"} object per line, as \`chunk\` writes`,
    );
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line) continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      throw bad(i + 1, "not JSON");
    }
    if (typeof v !== "object" || v === null || Array.isArray(v)) throw bad(i + 1, "not an object");
    const o = v as Record<string, unknown>;
    for (const key of ["index", "start", "end", "tokens"]) {
      if (typeof o[key] !== "number" || !Number.isInteger(o[key]) || (o[key] as number) < 0) {
        throw bad(i + 1, `"${key}" missing or not a non-negative integer`);
      }
    }
    if (typeof o.text !== "string") throw bad(i + 1, `"text" missing or not a string`);
    const c = o as unknown as Chunk;
    if (c.end < c.start) throw bad(i + 1, `"end" ${c.end} is before "start" ${c.start}`);
    if (c.text.length !== c.end - c.start) {
      throw bad(
        i + 1,
        `"text" has ${c.text.length} characters but end - start is ${c.end - c.start}`,
      );
    }
    out.push({ index: c.index, start: c.start, end: c.end, tokens: c.tokens, text: c.text });
  }
  if (out.length === 0) throw new BenteviError(`${path}: no chunks in the file`);
  return out;
}

/** Summary statistics of a list of numbers. */
export interface ChunkSizeStats {
  /** Smallest. */
  min: number;
  /** Mean. */
  mean: number;
  /** Median. */
  median: number;
  /** 90th percentile. */
  p90: number;
  /** Largest. */
  max: number;
  /** Coefficient of variation (standard deviation / mean). */
  cv: number;
}

function stats(xs: number[]): ChunkSizeStats {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  const mean = s.reduce((a, b) => a + b, 0) / n;
  const sd = Math.sqrt(s.reduce((a, b) => a + (b - mean) ** 2, 0) / n);
  const r = (x: number) => Math.round(x * 100) / 100;
  return {
    min: s[0],
    mean: r(mean),
    median: s[Math.floor((n - 1) / 2)],
    p90: s[Math.min(n - 1, Math.floor(0.9 * (n - 1)))],
    max: s[n - 1],
    cv: r(mean > 0 ? sd / mean : 0),
  };
}

/** What {@link analyzeChunks} reports. */
export interface AnalysisReport {
  /** Number of chunks. */
  chunks: number;
  /** Sizes in the budget's unit. */
  tokens: ChunkSizeStats;
  /** Sizes in characters. */
  chars: ChunkSizeStats;
  /** Share of chunks whose first character starts a sentence. */
  sentence_start_share: number;
  /** Share of chunks that end on a sentence end (see {@link endsOnSentence}). */
  sentence_end_share: number;
  /** Lexical cohesion: mean cosine of a chunk's two halves, and of the halves facing each other across each boundary. */
  cohesion: { within: number; across: number; score: number };
  /** Share of the chunks' characters that repeat the previous chunk (overlap). */
  overlap_share: number;
  /** With a source: whether every chunk's text is `source.slice(start, end)` and the chunks cover it without gaps. */
  source_check?: { ok: boolean; problems: string[] };
  /** Concrete advice. */
  suggestions: string[];
}

/**
 * Analyzes chunks (optionally against their source text).
 *
 * @example
 * ```ts
 * import { analyzeChunks } from "./analyze.ts";
 * import { chunkText } from "./engine.ts";
 * const text = "O gato mia. O gato dorme.\n\nA bolsa subiu. A bolsa caiu.";
 * const report = analyzeChunks(chunkText(text, { maxTokens: 30 }), { source: text });
 * console.log(report.sentence_end_share, report.source_check?.ok); // 1 true
 * ```
 */
export function analyzeChunks(chunks: Chunk[], options: { source?: string } = {}): AnalysisReport {
  if (chunks.length === 0) throw new BenteviError("no chunks to analyze");
  const T = charClasses();
  const source = options.source;
  const starts = source !== undefined ? new Set<number>() : undefined;
  if (source !== undefined) {
    const b = findBoundaries(source);
    for (let k = 0; k < b.pos.length; k++) {
      if (b.level[k] >= BOUNDARY.SENTENCE) starts!.add(b.pos[k]);
    }
  }
  let startOk = 0;
  let overlapChars = 0, totalChars = 0;
  const halves: [Map<number, number>, Map<number, number>][] = [];
  for (let i = 0; i < chunks.length; i++) {
    const c = chunks[i];
    totalChars += c.text.length;
    if (i > 0 && c.start < chunks[i - 1].end) overlapChars += chunks[i - 1].end - c.start;
    let k = 0;
    while (k < c.text.length && (T[c.text.charCodeAt(k)] & SPACE) !== 0) k++;
    const first = c.text.charCodeAt(k);
    if (
      c.start === 0 || (starts ? starts.has(c.start) : (T[first] & (UPPER | DIGIT | DASH)) !== 0 ||
        `"'“«(¿¡#*•`.includes(c.text[k] ?? ""))
    ) {
      startOk++;
    }
    // Cohesion compares text, not its copies: the part a chunk repeats from the one before
    // (overlap) would make every boundary look cohesive.
    const skip = i > 0 ? Math.min(c.text.length, Math.max(0, chunks[i - 1].end - c.start)) : 0;
    const w = wordHashes(skip ? c.text.slice(skip) : c.text);
    const mid = w.length >> 1;
    halves.push([bagOf(w.slice(0, mid)), bagOf(w.slice(mid))]);
  }
  let within = 0, across = 0;
  for (let i = 0; i < halves.length; i++) {
    within += cosine(halves[i][0], halves[i][1]);
    if (i > 0) across += cosine(halves[i - 1][1], halves[i][0]);
  }
  within /= halves.length;
  across = halves.length > 1 ? across / (halves.length - 1) : 0;
  const r4 = (x: number) => Math.round(x * 10000) / 10000;
  const report: AnalysisReport = {
    chunks: chunks.length,
    tokens: stats(chunks.map((c) => c.tokens)),
    chars: stats(chunks.map((c) => c.text.length)),
    sentence_start_share: r4(startOk / chunks.length),
    sentence_end_share: r4(sentenceEndShare(chunks)),
    cohesion: { within: r4(within), across: r4(across), score: r4(within - across) },
    overlap_share: r4(totalChars ? overlapChars / totalChars : 0),
    suggestions: [],
  };
  if (source !== undefined) report.source_check = checkAgainstSource(chunks, source);
  report.suggestions = suggest(report);
  return report;
}

function checkAgainstSource(chunks: Chunk[], source: string): { ok: boolean; problems: string[] } {
  const problems: string[] = [];
  let covered = 0;
  for (const c of chunks) {
    if (problems.length >= 5) break;
    if (c.end > source.length) {
      problems.push(
        `chunk ${c.index} ends at ${c.end}, past the source's ${source.length} characters`,
      );
      continue;
    }
    if (source.slice(c.start, c.end) !== c.text) {
      problems.push(`chunk ${c.index}: text differs from source[${c.start}, ${c.end})`);
    }
    if (c.start > covered) problems.push(`gap before chunk ${c.index}: [${covered}, ${c.start})`);
    covered = Math.max(covered, c.end);
  }
  if (problems.length < 5 && covered < source.length) {
    problems.push(`the chunks stop at ${covered}; the source has ${source.length} characters`);
  }
  return { ok: problems.length === 0, problems };
}

/** The seed's `suggest_optimizations`: concrete changes for the weaknesses found. */
function suggest(r: AnalysisReport): string[] {
  const out: string[] = [];
  const pct = (x: number) => `${Math.round(x * 100)}%`;
  if (r.source_check && !r.source_check.ok) {
    out.push(
      `offsets do not match the source (${r.source_check.problems[0]}): re-chunk this exact file`,
    );
  }
  if (r.sentence_end_share < 0.9) {
    out.push(
      `${
        pct(1 - r.sentence_end_share)
      } of chunks end mid-sentence: use --strategy sentence or recursive (with one of them ` +
        `already, sentences longer than the budget are cut: raise --max-tokens or --max-chars)`,
    );
  }
  if (r.chunks > 1 && r.tokens.mean < 0.5 * r.tokens.max) {
    out.push(
      `chunks are on average ${
        pct(r.tokens.mean / r.tokens.max)
      } of the largest: raise --min-tokens (or use --strategy sentence) for fuller chunks`,
    );
  }
  if (r.tokens.cv > 0.5) {
    out.push(
      `sizes vary a lot (coefficient of variation ${r.tokens.cv}): --strategy sentence or fixed gives more even chunks`,
    );
  }
  const tiny = r.tokens.min < 0.1 * r.tokens.max;
  if (tiny && r.chunks > 10) {
    out.push(
      `some chunks are tiny (smallest ${r.tokens.min} vs largest ${r.tokens.max}): set --min-tokens`,
    );
  }
  if (r.chunks > 2 && r.cohesion.within > 0 && r.cohesion.score < 0.02) {
    out.push(
      `boundaries do not follow topic shifts (similarity within chunks ${r.cohesion.within}, ` +
        `across boundaries ${r.cohesion.across}): try --strategy semantic`,
    );
  }
  if (r.overlap_share === 0 && r.chunks > 1) {
    out.push("no overlap: for retrieval, --overlap 0.1 to 0.15 keeps context across boundaries");
  } else if (r.overlap_share > 0.3) {
    out.push(
      `${
        pct(r.overlap_share)
      } of the text is repeated by overlap: lower --overlap to shrink the index`,
    );
  }
  if (out.length === 0) out.push("no problems found");
  return out;
}
