/**
 * The units the packing strategies work on: spans between sentence-or-stronger boundaries
 * (sentences, list items, headings, paragraphs), each with its size in the budget's unit and
 * the strength of the break after it. A unit larger than the budget has already been split into
 * clauses, words or characters, so every unit fits the budget on its own.
 *
 * @module
 */
import { wordHashes } from "./lexical.ts";

/** The growing (and, while streaming, trimmed) list of units. Indices are global. */
export class Units {
  /** Absolute start offsets. */
  start: Float64Array = new Float64Array(8192);
  /** Absolute end offsets (the next unit's start). */
  end: Float64Array = new Float64Array(8192);
  /** Strength ({@link import("../text/sentences.ts").BOUNDARY}) of the break after each unit. */
  level: Uint8Array = new Uint8Array(8192);
  /** 1 when the unit ends with sentence punctuation (`.`, `!`, `?`, `…`, maybe closed by quotes). */
  term: Uint8Array = new Uint8Array(8192);
  /** Exact size of each unit's own text. */
  size: Float64Array = new Float64Array(8192);
  /** What joining a unit to the one before it saves in the count (estimate, tokens only). */
  adj: Uint8Array = new Uint8Array(8192);
  /** Content-word hashes by global index, computed on demand. */
  words: Map<number, number[]> = new Map();
  /** Embedding vectors by global index (with an embedder), computed on demand. */
  vectors: Map<number, Float32Array> = new Map();
  /** Global index of the first unit still stored. */
  base = 0;
  /** Units stored. */
  length = 0;

  /** Global index one past the last unit. */
  get total(): number {
    return this.base + this.length;
  }

  /** Appends a unit. */
  push(start: number, end: number, level: number, size: number, adj: number, term: number): void {
    if (this.length === this.start.length) this.grow();
    const k = this.length++;
    this.start[k] = start;
    this.end[k] = end;
    this.level[k] = level;
    this.size[k] = size;
    this.adj[k] = adj;
    this.term[k] = term;
  }

  private grow(): void {
    const n = this.start.length * 2;
    const f64 = (a: Float64Array) => {
      const b = new Float64Array(n);
      b.set(a);
      return b;
    };
    const u8 = (a: Uint8Array) => {
      const b = new Uint8Array(n);
      b.set(a);
      return b;
    };
    this.start = f64(this.start);
    this.end = f64(this.end);
    this.size = f64(this.size);
    this.level = u8(this.level);
    this.term = u8(this.term);
    this.adj = u8(this.adj);
  }

  /** Forgets units before global index `g`. */
  dropBefore(g: number): void {
    const k = g - this.base;
    if (k <= 0) return;
    for (const a of [this.start, this.end, this.size, this.level, this.term, this.adj]) {
      a.copyWithin(0, k, this.length);
    }
    this.length -= k;
    for (const key of this.words.keys()) if (key < g) this.words.delete(key);
    for (const key of this.vectors.keys()) if (key < g) this.vectors.delete(key);
    this.base = g;
  }
}

/** What a packing strategy sees when it decides the next chunk. */
export interface PackInput {
  /** The units. */
  units: Units;
  /** Global index of the chunk's first unit. */
  first: number;
  /** True when no more units will arrive. */
  ended: boolean;
  /** Budget for this chunk. */
  budget: number;
  /** Preferred minimum size. */
  min: number;
  /** Word hashes of unit `g` (global index). */
  words(g: number): number[];
  /**
   * The embedding of unit `g`, when the chunker was given an embedder; undefined while it is
   * being computed (the strategy then returns null and is asked again once it is there).
   */
  vector?: (g: number) => Float32Array | undefined;
}

/**
 * A strategy: given the units from `first`, returns how many to put in the next chunk (≥ 1),
 * or null when it needs more units to decide. It must decide the same way whatever units come
 * after the ones it looked at (that is what makes streaming give the same chunks).
 */
export type Packer = (input: PackInput) => number | null;

/** How many units fit the budget from `first`, with their cumulative estimated sizes. */
export interface Fit {
  /** Units that fit (≥ 1). */
  k: number;
  /** `cum[j]` = estimated size of the first `j + 1` units. */
  cum: number[];
  /** True when the fitting units reach the end of the input. */
  atEnd: boolean;
}

/**
 * Greedy fit: the longest run of units from `first` whose estimated joint size is within the
 * budget; null when the run may continue past the units received so far.
 */
export function fit(input: PackInput): Fit | null {
  const u = input.units;
  const total = u.total;
  const cum: number[] = [];
  let sum = 0;
  let g = input.first;
  for (; g < total; g++) {
    const k = g - u.base;
    const s = sum + u.size[k] - (g > input.first ? u.adj[k] : 0);
    if (s > input.budget && g > input.first) break;
    sum = s;
    cum.push(sum);
  }
  if (g >= total && !input.ended) return null;
  return { k: cum.length, cum, atEnd: g >= total };
}

/** Helper for strategies: word hashes of units, cached on the Units object. */
export function unitWords(
  units: Units,
  text: (start: number, end: number) => string,
  g: number,
): number[] {
  let w = units.words.get(g);
  if (!w) {
    const k = g - units.base;
    w = wordHashes(text(units.start[k], units.end[k]));
    units.words.set(g, w);
  }
  return w;
}
