/**
 * The chunking engine every strategy runs in: it reads text incrementally (a string, or a
 * stream of strings), finds boundaries with the Portuguese scanner, turns them into units with
 * exact sizes (splitting any unit over the budget into clauses, words, then characters), lets
 * the strategy choose where each chunk ends, verifies each chunk's exact size, and adds the
 * overlap. The in-memory call is the streaming call fed one string, so both give the same
 * chunks; a chunk never depends on text more than one budget (plus a few sentences) ahead.
 *
 * @module
 */
import { BenteviError } from "../errors.ts";
import { charClasses, CLOSER, snapToCodePoint, SPACE, TERM } from "../text/chars.ts";
import { BOUNDARY, SCAN_LOOKBEHIND, scanBoundaries } from "../text/sentences.ts";
import { packAdaptive } from "./adaptive.ts";
import { fixedCut } from "./fixed.ts";
import { packRecursive } from "./recursive.ts";
import { packSemantic } from "./semantic.ts";
import { packSentences } from "./sentence.ts";
import {
  charCounter,
  type Chunk,
  type ChunkOptions,
  OWN_TOKENS,
  type ResolvedOptions,
  resolveOptions,
  type Strategy,
} from "./types.ts";
import { type Packer, Units, unitWords } from "./units.ts";

const PACKERS: Record<Exclude<Strategy, "fixed">, Packer> = {
  sentence: packSentences,
  recursive: packRecursive,
  semantic: packSemantic,
  adaptive: packAdaptive,
};

/** Longest run of text without a boundary before it is cut into units anyway (characters). */
export const UNIT_CAP = 1 << 16;

/** Longest span (in characters per budget unit) the token-budget searches look at. */
export const MAX_CHARS_PER_TOKEN = 16;

/**
 * Incremental chunker: `push` text as it arrives, `finish` at the end; each returns the chunks
 * that became final. Offsets are into the concatenation of everything pushed.
 *
 * @example
 * ```ts
 * import { Chunker } from "./engine.ts";
 * const chunker = new Chunker({ strategy: "sentence", maxTokens: 30 });
 * const chunks = [...chunker.push("Primeira frase. Segunda"), ...chunker.push(" frase. Fim."), ...chunker.finish()];
 * console.log(chunks.map((c) => c.text)); // ["Primeira frase. ", "Segunda frase. Fim."]
 * ```
 */
export class Chunker {
  /** The options in force, defaults filled in. */
  readonly options: ResolvedOptions;
  private buf = "";
  private base = 0;
  private scanAbs = 0;
  private lastB = 0;
  private ended = false;
  private finished = false;
  private units = new Units();
  private cur = 0;
  private pos = 0;
  private prevStart = -1;
  private index = 0;
  private readonly budget: number;
  private readonly ovBudget: number;
  private readonly packer: Packer | null;
  private readonly additive: boolean;
  private readonly count: (text: string) => number;
  private readonly isChars: boolean;
  private charsPerToken = 4;
  private readonly unitCap: number;
  /** Units whose vectors the strategy asked for and the embedder has not given yet. */
  private readonly missing = new Set<number>();
  #waiting: Promise<void> | undefined;

  /** Checks `options` (a {@link BenteviError} for impossible ones). */
  constructor(options: ChunkOptions = {}) {
    this.options = resolveOptions(options);
    const o = this.options;
    this.ovBudget = Math.floor(o.overlap * o.maxTokens);
    this.budget = Math.max(1, o.maxTokens - this.ovBudget);
    this.packer = o.strategy === "fixed" ? null : PACKERS[o.strategy];
    this.additive = !!o.counter.additive;
    this.isChars = o.counter === charCounter;
    this.unitCap = Math.max(UNIT_CAP, 64 * o.maxTokens);
    const counter = o.counter;
    this.count = (t: string) => counter.countTokens(t, OWN_TOKENS);
  }

  /**
   * Set while an asynchronous embedder computes vectors the strategy waits for: await it, then
   * call {@link resume} for the chunks they decide (before pushing more text).
   */
  get waiting(): Promise<void> | undefined {
    return this.#waiting;
  }

  /** After {@link waiting} resolved: the chunks the new vectors decided. */
  resume(): Chunk[] {
    this.#waiting = undefined;
    const out: Chunk[] = [];
    if (this.packer) this.packUnits(out);
    return out;
  }

  /** Adds text; returns the chunks it completed. */
  push(text: string): Chunk[] {
    if (this.finished) throw new Error("Chunker.push after finish");
    if (this.#waiting) {
      throw new Error("Chunker.push while vectors are pending (await waiting, then resume)");
    }
    this.trim();
    this.buf += text;
    return this.run(false);
  }

  /** Ends the input; returns the remaining chunks. */
  finish(): Chunk[] {
    if (this.finished) return [];
    this.finished = true;
    return this.run(true);
  }

  /** Text between two absolute offsets. */
  private text(a: number, b: number): string {
    return this.buf.slice(a - this.base, b - this.base);
  }

  /** Absolute offset of the end of the text received so far. */
  private get textEnd(): number {
    return this.base + this.buf.length;
  }

  /** Finds new boundaries and units, then emits every chunk that is decided. */
  private run(final: boolean): Chunk[] {
    const from = this.scanAbs - this.base;
    const resume = scanBoundaries(this.buf, from, final, (p, level) => {
      const abs = p + this.base;
      this.forceCuts(abs);
      this.addUnit(this.lastB, abs, level);
      this.lastB = abs;
    });
    this.scanAbs = resume + this.base;
    this.forceCuts(final ? this.textEnd : this.scanAbs);
    if (final) {
      if (this.lastB < this.textEnd) this.addUnit(this.lastB, this.textEnd, BOUNDARY.SECTION);
      this.lastB = this.textEnd;
      this.ended = true;
    }
    const out: Chunk[] = [];
    if (this.packer) this.packUnits(out);
    else this.packFixed(out);
    return out;
  }

  // ---- units ------------------------------------------------------------------------------

  /**
   * Text without any boundary for more than {@link UNIT_CAP} characters (a one-line dump, a
   * minified file) is cut into word-level units at fixed places, so memory and look-ahead stay
   * bounded; `known` is how far the text is known to hold no other boundary.
   */
  private forceCuts(known: number): void {
    const cap = this.unitCap;
    if (known - this.lastB <= cap) return; // the usual case, once per boundary
    const T = charClasses();
    while (known - this.lastB > cap) {
      const a = this.lastB;
      let c = -1;
      for (let k = a + cap; k > a + cap / 2; k--) {
        const cur = this.buf.charCodeAt(k - this.base);
        const prev = this.buf.charCodeAt(k - 1 - this.base);
        if ((T[prev] & SPACE) !== 0 && (T[cur] & SPACE) === 0) {
          c = k;
          break;
        }
      }
      if (c < 0) c = snapToCodePoint(this.buf, a + cap - this.base) + this.base;
      this.addUnit(a, c, BOUNDARY.WORD);
      this.lastB = c;
    }
  }

  /** Estimated tokens saved by joining the unit starting at `a` to the one before (a space). */
  private adjAt(a: number): number {
    if (this.additive || a <= 0) return 0;
    return this.buf.charCodeAt(a - 1 - this.base) === 32 ? 1 : 0;
  }

  /** 1 when the text before `b` (spaces and closing quotes aside) ends with `.!?…`. */
  private endsSentence(b: number): number {
    const T = charClasses();
    let k = b - 1 - this.base;
    while (k >= 0 && (T[this.buf.charCodeAt(k)] & (SPACE | CLOSER)) !== 0) k--;
    return k >= 0 && (T[this.buf.charCodeAt(k)] & TERM) !== 0 ? 1 : 0;
  }

  /** Adds the unit `[a, b)`, split first when it is over the budget. */
  private addUnit(a: number, b: number, level: number): void {
    if (b <= a) return;
    if (!this.packer) {
      this.units.push(a, b, level, 0, 0, this.endsSentence(b));
      return;
    }
    const size = this.isChars ? b - a : this.count(this.text(a, b));
    if (size <= this.budget) {
      this.units.push(a, b, level, size, this.adjAt(a), this.endsSentence(b));
    } else this.splitUnit(a, b, level, BOUNDARY.CLAUSE);
  }

  /** Splits an over-budget span at clause, then word, then character boundaries. */
  private splitUnit(a: number, b: number, level: number, sub: number): void {
    const cuts = this.subBoundaries(a, b, sub);
    cuts.push(b);
    let s = a;
    for (const e of cuts) {
      const lvl = e === b ? level : sub;
      const size = this.count(this.text(s, e));
      if (size <= this.budget) {
        this.units.push(s, e, lvl, size, this.adjAt(s), this.endsSentence(e));
      } else if (sub === BOUNDARY.CLAUSE) this.splitUnit(s, e, lvl, BOUNDARY.WORD);
      else this.splitChars(s, e, lvl);
      s = e;
    }
  }

  /** Starts of clauses (after `,;:` or a dash and spaces) or words inside `(a, b)`. */
  private subBoundaries(a: number, b: number, sub: number): number[] {
    const T = charClasses();
    const buf = this.buf, off = this.base;
    const out: number[] = [];
    for (let k = a + 1 - off; k < b - off; k++) {
      if ((T[buf.charCodeAt(k - 1)] & SPACE) === 0 || (T[buf.charCodeAt(k)] & SPACE) !== 0) {
        continue;
      }
      if (sub === BOUNDARY.CLAUSE) {
        let q = k - 1;
        while (q > a - off && (T[buf.charCodeAt(q)] & SPACE) !== 0) q--;
        const c = buf.charCodeAt(q);
        if (c !== 44 && c !== 59 && c !== 58 && c !== 0x2014 && c !== 0x97) continue;
      }
      out.push(k + off);
    }
    return out;
  }

  /** Cuts a span with no usable word break into the longest pieces that fit. */
  private splitChars(a: number, b: number, level: number): void {
    let p = a;
    while (p < b) {
      const q = this.largestFit(p, b, this.budget);
      const size = this.count(this.text(p, q));
      this.units.push(
        p,
        q,
        q === b ? level : BOUNDARY.CHAR,
        size,
        0,
        q === b ? this.endsSentence(b) : 0,
      );
      p = q;
    }
  }

  /**
   * The largest `q` in `(p, hi]` on a code point boundary with `count(text[p, q)) <= budget`
   * (binary search; throws when even one character is over the budget).
   */
  largestFit(p: number, hi: number, budget: number): number {
    const off = this.base;
    const limit = Math.min(hi, p + budget * MAX_CHARS_PER_TOKEN + 2);
    if (this.isChars) {
      const q = snapToCodePoint(this.buf, Math.min(limit, p + budget) - off) + off;
      if (q > p) return q;
    } else {
      let lo = p, up = limit;
      while (lo < up) {
        let mid = snapToCodePoint(this.buf, Math.ceil((lo + up) / 2) - off) + off;
        if (mid <= lo) mid = snapToCodePoint(this.buf, lo + 2 - off) + off;
        if (mid > up) break;
        if (this.count(this.text(p, mid)) <= budget) lo = mid;
        else up = mid - 1;
      }
      if (lo > p) return lo;
    }
    // one character over the budget without the overlap still fits the full budget (its chunk
    // then simply carries no overlap)
    if (budget < this.options.maxTokens) {
      const width = (this.buf.codePointAt(p - off) ?? 0) > 0xffff ? 2 : 1;
      return this.largestFit(p, Math.max(hi, p + width), this.options.maxTokens);
    }
    const cp = this.buf.codePointAt(p - off) ?? 0;
    const width = cp > 0xffff ? 2 : 1;
    throw new BenteviError(
      `the budget of ${this.options.maxTokens} ${this.options.counter.unit ?? "tokens"}` +
        `${
          this.ovBudget ? ` (${budget} without the overlap)` : ""
        } is smaller than the character ` +
        `at offset ${p} ("${this.text(p, p + width)}", ${this.count(this.text(p, p + width))} ` +
        `${this.options.counter.unit ?? "tokens"}); raise the budget`,
    );
  }

  // ---- packing ----------------------------------------------------------------------------

  /**
   * Emits the chunks the strategy can decide with the units received so far. When it waits
   * for vectors, the embedder gets every unit held that has none (one batch): a synchronous
   * one's answer is used at once, an asynchronous one's sets {@link waiting}.
   */
  private packUnits(out: Chunk[]): void {
    const embed = this.options.embed;
    while (true) {
      this.packDecided(out);
      if (!embed || this.missing.size === 0) return;
      const u = this.units;
      for (let g = this.cur; g < u.total; g++) if (!u.vectors.has(g)) this.missing.add(g);
      const gs = [...this.missing].filter((g) => g >= u.base).sort((a, b) => a - b);
      this.missing.clear();
      const texts = gs.map((g) => this.text(u.start[g - u.base], u.end[g - u.base]));
      const store = (vectors: Float32Array[]) => {
        if (vectors.length !== gs.length) {
          throw new BenteviError(
            `the embedder gave ${vectors.length} vectors for ${gs.length} texts`,
          );
        }
        gs.forEach((g, i) => u.vectors.set(g, vectors[i]));
      };
      const result = embed(texts);
      if (result instanceof Promise) {
        this.#waiting = result.then(store);
        return;
      }
      store(result);
    }
  }

  /** Emits the chunks the strategy decides with the units and vectors at hand. */
  private packDecided(out: Chunk[]): void {
    const u = this.units;
    const words = (g: number) => unitWords(u, (a, b) => this.text(a, b), g);
    const vector = this.options.embed
      ? (g: number) => {
        const v = u.vectors.get(g);
        if (!v) this.missing.add(g);
        return v;
      }
      : undefined;
    while (this.cur < u.total) {
      const j = this.packer!({
        units: u,
        first: this.cur,
        ended: this.ended,
        budget: this.budget,
        min: Math.min(this.options.minTokens, this.budget),
        words,
        vector,
      });
      if (j === null) break;
      let endG = this.cur + Math.max(1, j);
      const s = u.start[this.cur - u.base];
      let e = u.end[endG - 1 - u.base];
      let tokens = 0;
      if (this.additive) {
        for (let g = this.cur; g < endG; g++) tokens += u.size[g - u.base];
      } else {
        tokens = this.count(this.text(s, e));
        while (tokens > this.budget && endG - this.cur > 1) {
          endG--;
          e = u.end[endG - 1 - u.base];
          tokens = this.count(this.text(s, e));
        }
      }
      this.emit(out, s, e, tokens);
      this.cur = endG;
      this.pos = e;
    }
  }

  /** Emits the fixed windows that are decided. */
  private packFixed(out: Chunk[]): void {
    let counted = -1, countedTokens = 0;
    while (this.pos < this.textEnd) {
      // the overlap looks for sentence starts before pos: they must all be known
      if (this.ovBudget > 0 && !this.ended && this.scanAbs < this.pos) break;
      const cut = fixedCut({
        pos: this.pos,
        textEnd: this.textEnd,
        ended: this.ended,
        scanned: this.ended ? this.textEnd : this.scanAbs,
        budget: this.budget,
        preserve: this.options.preserve,
        units: this.units,
        text: (a, b) => this.text(a, b),
        charAt: (k) => this.buf.charCodeAt(k - this.base),
        counter: this.options.counter,
        isChars: this.isChars,
        largestFit: (p, hi) => this.largestFit(p, hi, this.budget),
        charsPerToken: this.charsPerToken,
        counted: (c, n) => {
          counted = c;
          countedTokens = n;
        },
      });
      if (cut === null) break;
      const tokens = cut === counted ? countedTokens : this.count(this.text(this.pos, cut));
      // the next token window is sized from what this one held (deterministic: earlier text only)
      if (!this.isChars && tokens > 0) {
        this.charsPerToken = Math.min(MAX_CHARS_PER_TOKEN, Math.max(1, (cut - this.pos) / tokens));
      }
      this.emit(out, this.pos, cut, tokens);
      this.pos = cut;
    }
  }

  // ---- overlap and output -----------------------------------------------------------------

  /** Adds the chunk `[s, e)` with its overlap prefix, counted exactly. */
  private emit(out: Chunk[], s: number, e: number, tokens: number): void {
    let start = s;
    if (this.ovBudget > 0 && this.prevStart >= 0 && s > this.prevStart) {
      start = this.overlapStart(this.prevStart, s);
      if (start < s) {
        const max = this.options.maxTokens;
        let t = this.count(this.text(start, e));
        while (t > max && start < s) {
          start = this.nextWordStart(start, s);
          t = start < s ? this.count(this.text(start, e)) : tokens;
        }
        tokens = t;
      }
    }
    this.prevStart = s;
    out.push({ index: this.index++, start, end: e, tokens, text: this.text(start, e) });
  }

  /** Where the overlap repeated before `s` starts: a sentence start if one fits, else a word start. */
  private overlapStart(ps: number, s: number): number {
    const u = this.units;
    const ov = this.ovBudget;
    // boundaries (unit ends) before s, latest first; a boundary is known as soon as it is found
    let lo = u.base, hi = u.total - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (u.end[mid - u.base] < s) lo = mid;
      else hi = mid - 1;
    }
    let best = s;
    for (let g = lo; g >= u.base && u.end[g - u.base] > ps; g--) {
      const b = u.end[g - u.base];
      if (b >= s || u.level[g - u.base] < BOUNDARY.SENTENCE) continue;
      if (this.count(this.text(b, s)) > ov) break;
      best = b;
    }
    if (best < s) return best;
    // word starts within reach, then the earliest one whose suffix fits
    const T = charClasses();
    const from = Math.max(ps + 1, s - ov * MAX_CHARS_PER_TOKEN);
    const starts: number[] = [];
    for (let k = from; k < s; k++) {
      const c = this.buf.charCodeAt(k - this.base);
      const p = this.buf.charCodeAt(k - 1 - this.base);
      if ((T[p] & SPACE) !== 0 && (T[c] & SPACE) === 0) starts.push(k);
    }
    let a = 0, b = starts.length; // find the first index whose suffix fits
    while (a < b) {
      const m = (a + b) >> 1;
      if (this.count(this.text(starts[m], s)) <= ov) b = m;
      else a = m + 1;
    }
    return a < starts.length ? starts[a] : s;
  }

  /** The first word start after `k` (or `s`). */
  private nextWordStart(k: number, s: number): number {
    const T = charClasses();
    for (let q = k + 1; q < s; q++) {
      const c = this.buf.charCodeAt(q - this.base);
      const p = this.buf.charCodeAt(q - 1 - this.base);
      if ((T[p] & SPACE) !== 0 && (T[c] & SPACE) === 0) return q;
    }
    return s;
  }

  /** Forgets text and units that no future chunk can need. */
  private trim(): void {
    let keep = Math.min(
      this.pos,
      this.lastB,
      this.scanAbs - 4 * SCAN_LOOKBEHIND,
      this.prevStart >= 0 ? this.prevStart : this.pos,
    );
    keep -= 1;
    if (keep - this.base < 1 << 16 || keep - this.base < this.buf.length / 2) return;
    this.buf = this.buf.slice(keep - this.base);
    this.base = keep;
    const u = this.units;
    let g = u.base;
    while (g + 1 < u.total && u.end[g + 1 - u.base] < keep) g++;
    u.dropBefore(this.packer ? Math.min(g, this.cur - 1) : g);
  }
}

/**
 * Chunks a whole string.
 *
 * @example
 * ```ts
 * import { chunkText } from "./engine.ts";
 * const text = "O Sr. Silva chegou. Disse que vinha de longe.\n\nNinguém respondeu.";
 * const chunks = chunkText(text, { strategy: "sentence", maxTokens: 50 });
 * console.log(chunks.map((c) => [c.start, c.end])); // [[0, 47], [47, 65]]
 * console.log(chunks.map((c) => c.text).join("") === text); // true
 * ```
 */
export function chunkText(text: string, options: ChunkOptions = {}): Chunk[] {
  const chunker = new Chunker(options);
  const out = chunker.push(text);
  if (!chunker.waiting) { for (const c of chunker.finish()) out.push(c); }
  if (chunker.waiting) {
    chunker.waiting.catch(() => {}); // its error, if any, is not this call's
    throw new BenteviError(
      "chunkText needs a synchronous embedder; use chunkStream with a model's (asynchronous) one",
    );
  }
  return out;
}

/**
 * Chunks a stream of strings (an `AsyncIterable<string>` or a `ReadableStream<string>`), yielding
 * each chunk as soon as it is final; gives exactly the chunks {@link chunkText} gives for the
 * concatenated text, with memory bounded by a few chunks.
 *
 * @example
 * ```ts
 * import { chunkStream } from "./engine.ts";
 * async function* parts() {
 *   yield "Uma frase. Out";
 *   yield "ra frase. Fim.";
 * }
 * for await (const c of chunkStream(parts(), { strategy: "sentence", maxTokens: 12 })) {
 *   console.log(c.index, JSON.stringify(c.text));
 * }
 * ```
 */
export async function* chunkStream(
  source: AsyncIterable<string> | ReadableStream<string>,
  options: ChunkOptions = {},
): AsyncGenerator<Chunk> {
  const chunker = new Chunker(options);
  const drain = async function* (chunks: Chunk[]): AsyncGenerator<Chunk> {
    yield* chunks;
    while (chunker.waiting) {
      await chunker.waiting;
      yield* chunker.resume();
    }
  };
  for await (const part of source as AsyncIterable<string>) yield* drain(chunker.push(part));
  yield* drain(chunker.finish());
}
