/**
 * Structure-aware mutators for the fuzzing harness: byte flips, interesting bytes, truncation,
 * range deletion/duplication/insertion, integer fields that lie, and JSON-level edits (a value
 * replaced by an interesting one, a number nudged, a key dropped, an element duplicated…).
 * All draws come from one seeded {@link Xoshiro128}, so a mutant is reproducible from its seed.
 *
 * @module
 */
import type { Xoshiro128 } from "../../src/random.ts";

/** The seeded generator a mutator draws from. */
export type Rng = Xoshiro128;

/** An integer field of a binary header: where it is and how wide. */
export interface IntField {
  /** Byte offset. */
  offset: number;
  /** Width in bytes (little-endian). */
  size: 2 | 4 | 8;
}

/** A uniform integer in [0, n). */
export function below(rng: Rng, n: number): number {
  return n <= 1 ? 0 : rng.below(n);
}

/** One element of `items`, drawn uniformly. */
export function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[below(rng, items.length)];
}

const INTERESTING_BYTES = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x0a, 0x22, 0x5c, 0x7b, 0x7d, 0xc3, 0xef];

/** Integers that make sizes and counts lie. */
export const INTERESTING_INTS: readonly number[] = [
  0,
  1,
  -1,
  2,
  3,
  255,
  256,
  65535,
  65536,
  0x7fffffff,
  -0x80000000,
  0xffffffff,
  1e9,
  2 ** 40,
  2 ** 53,
];

/** Flips 1–8 random bits. */
export function flipBits(rng: Rng, b: Uint8Array): Uint8Array {
  if (!b.length) return b;
  const out = b.slice();
  const n = 1 + below(rng, 8);
  for (let k = 0; k < n; k++) out[below(rng, out.length)] ^= 1 << below(rng, 8);
  return out;
}

/** Sets 1–4 random bytes to interesting values. */
export function interestingBytes(rng: Rng, b: Uint8Array): Uint8Array {
  if (!b.length) return b;
  const out = b.slice();
  const n = 1 + below(rng, 4);
  for (let k = 0; k < n; k++) out[below(rng, out.length)] = pick(rng, INTERESTING_BYTES);
  return out;
}

/** Cuts the file at a random length (often near the start or the end). */
export function truncate(rng: Rng, b: Uint8Array): Uint8Array {
  const r = rng.next();
  const at = r < 0.3
    ? below(rng, Math.min(b.length, 64) + 1)
    : r < 0.6
    ? Math.max(0, b.length - 1 - below(rng, Math.min(b.length, 64)))
    : below(rng, b.length + 1);
  return b.slice(0, at);
}

/** Deletes, duplicates or inserts random bytes in a random range. */
export function splice(rng: Rng, b: Uint8Array): Uint8Array {
  const start = below(rng, b.length + 1);
  const len = 1 + below(rng, Math.max(1, Math.min(256, b.length - start)));
  const op = below(rng, 3);
  if (op === 0) return concat(b.subarray(0, start), b.subarray(Math.min(b.length, start + len)));
  if (op === 1) {
    const piece = b.subarray(start, Math.min(b.length, start + len));
    return concat(b.subarray(0, start), piece, piece, b.subarray(start + piece.length));
  }
  const junk = new Uint8Array(1 + below(rng, 16));
  for (let i = 0; i < junk.length; i++) junk[i] = below(rng, 256);
  return concat(b.subarray(0, start), junk, b.subarray(start));
}

/** Byte-level mutations, one drawn at random. */
export function mutateBytes(rng: Rng, b: Uint8Array): Uint8Array {
  const op = below(rng, 4);
  return op === 0
    ? flipBits(rng, b)
    : op === 1
    ? interestingBytes(rng, b)
    : op === 2
    ? truncate(rng, b)
    : splice(rng, b);
}

/** Overwrites one integer field with an interesting value, or the value ±1, ×2, negated. */
export function lieInt(rng: Rng, b: Uint8Array, fields: readonly IntField[]): Uint8Array {
  const fits = fields.filter((f) => f.offset + f.size <= b.length);
  if (!fits.length) return flipBits(rng, b);
  const f = pick(rng, fits);
  const out = b.slice();
  const dv = new DataView(out.buffer);
  const old = f.size === 8
    ? Number(dv.getBigInt64(f.offset, true))
    : f.size === 4
    ? dv.getInt32(f.offset, true)
    : dv.getUint16(f.offset, true);
  const r = below(rng, 3);
  const v = r === 0
    ? pick(rng, INTERESTING_INTS)
    : r === 1
    ? old + pick(rng, [1, -1, 4, -4])
    : pick(rng, [old * 2, -old, Math.floor(old / 2), old * 1000]);
  if (f.size === 8) dv.setBigInt64(f.offset, BigInt.asIntN(64, BigInt(Math.trunc(v))), true);
  else if (f.size === 4) {
    dv.setInt32(f.offset, Number(BigInt.asIntN(32, BigInt(Math.trunc(v)))), true);
  } else dv.setUint16(f.offset, Number(BigInt.asUintN(16, BigInt(Math.trunc(v)))), true);
  return out;
}

/** Concatenates byte arrays. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// ---------------------------------------------------------------- JSON-level edits

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const INTERESTING_JSON: readonly Json[] = [
  null,
  true,
  false,
  0,
  -1,
  1,
  0.5,
  -0.5,
  0x7fffffff,
  2 ** 31,
  2 ** 32,
  1e9,
  2 ** 53,
  1e308,
  -1e308,
  "",
  "x",
  "\u0000",
  "\ufeff",
  "NaN",
  "-1",
  [],
  {},
  [0],
  [-1, 2 ** 40],
  { a: 1 },
];

interface Slot {
  parent: Json[] | { [k: string]: Json } | null;
  key: string | number;
  value: Json;
}

function slots(root: Json, limit = 4000): Slot[] {
  const out: Slot[] = [{ parent: null, key: "", value: root }];
  for (let i = 0; i < out.length && out.length < limit; i++) {
    const v = out[i].value;
    if (Array.isArray(v)) v.forEach((x, k) => out.push({ parent: v, key: k, value: x }));
    else if (v && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) out.push({ parent: v, key: k, value: x });
    }
  }
  return out;
}

function tweak(rng: Rng, v: Json): Json {
  if (typeof v === "number") {
    return pick(rng, [v + 1, v - 1, v * 2, -v, v * 1e6, v / 2 + 0.25, 0, v + 2 ** 31]);
  }
  if (typeof v === "string") {
    const ops = [
      v.slice(0, below(rng, v.length + 1)),
      v + pick(rng, ["x", "\u0000", "é", "\ud800", "0"]),
      v.repeat(2 + below(rng, 3)),
      String(Number(v) + 1),
      v.toUpperCase(),
    ];
    return pick(rng, ops);
  }
  if (Array.isArray(v)) {
    const a = v.slice();
    const op = below(rng, 4);
    if (op === 0) a.pop();
    else if (op === 1 && a.length) a.push(a[below(rng, a.length)]);
    else if (op === 2 && a.length > 1) a.reverse();
    else a.length = below(rng, a.length + 1);
    return a;
  }
  if (v && typeof v === "object") {
    const o = { ...v };
    const keys = Object.keys(o);
    if (keys.length && rng.next() < 0.5) delete o[pick(rng, keys)];
    else if (keys.length) o[pick(rng, keys) + "_"] = o[pick(rng, keys)];
    return o;
  }
  return pick(rng, INTERESTING_JSON);
}

/** Applies 1–3 JSON-level edits to a parsed value (in place where possible); returns the root. */
export function mutateJsonValue(rng: Rng, root: Json): Json {
  const edits = 1 + below(rng, 3);
  for (let e = 0; e < edits; e++) {
    const all = slots(root);
    const s = pick(rng, all);
    const op = below(rng, 5);
    let next: Json | undefined;
    if (op === 0) next = structuredClone(pick(rng, INTERESTING_JSON));
    else if (op === 1) next = tweak(rng, s.value);
    else if (op === 2) next = undefined; // delete
    else if (op === 3) next = structuredClone(pick(rng, all).value); // another node's value
    else next = typeof s.value === "number" ? tweak(rng, s.value) : [s.value];
    if (s.parent === null) {
      root = next === undefined ? {} : next;
      continue;
    }
    if (Array.isArray(s.parent)) {
      const k = s.key as number;
      if (next === undefined) s.parent.splice(k, 1);
      else s.parent[k] = next;
    } else {
      const k = s.key as string;
      if (next === undefined) delete s.parent[k];
      else s.parent[k] = next;
    }
  }
  return root;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** JSON text edits: parse, edit, re-serialize; falls back to byte edits for non-JSON input. */
export function mutateJsonBytes(rng: Rng, b: Uint8Array): Uint8Array {
  let root: Json;
  try {
    root = JSON.parse(dec.decode(b));
  } catch {
    return mutateBytes(rng, b);
  }
  return enc.encode(JSON.stringify(mutateJsonValue(rng, root)));
}

/** JSON lines: edits one record (JSON-level), joins two lines, or drops a line end. */
export function mutateJsonLines(rng: Rng, b: Uint8Array): Uint8Array {
  const lines = dec.decode(b).split("\n");
  const i = below(rng, lines.length);
  const op = below(rng, 4);
  if (op <= 1) lines[i] = dec.decode(mutateJsonBytes(rng, enc.encode(lines[i])));
  else if (op === 2 && i + 1 < lines.length) lines.splice(i, 2, lines[i] + lines[i + 1]);
  else lines.splice(i, 0, lines[i]);
  return enc.encode(lines.join("\n"));
}

/** Text edits for markup: drops or repeats a tag, cuts inside one, inserts entities/markup. */
export function mutateMarkup(rng: Rng, b: Uint8Array): Uint8Array {
  const text = dec.decode(b);
  const tags = [...text.matchAll(/<[^>]*>/g)];
  const op = below(rng, 5);
  if (tags.length && op <= 1) {
    const t = pick(rng, tags);
    const at = t.index!;
    const replacement = op === 0 ? "" : t[0] + t[0];
    return enc.encode(text.slice(0, at) + replacement + text.slice(at + t[0].length));
  }
  if (tags.length && op === 2) {
    const t = pick(rng, tags);
    const cut = t.index! + below(rng, t[0].length);
    return enc.encode(text.slice(0, cut));
  }
  const junk = pick(rng, [
    "&amp;",
    "&#0;",
    "&#x110000;",
    "&bogus;",
    "&",
    "<",
    "]]>",
    "<![CDATA[x",
    "{{",
    "}}",
    "[[",
    "]]",
    "<!--",
    "<page>",
    "</page>",
    "<text>",
    "{{".repeat(200),
    "\u0000",
  ]);
  const at = below(rng, text.length + 1);
  return enc.encode(text.slice(0, at) + junk + text.slice(at));
}
