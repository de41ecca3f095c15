/**
 * GPT-2's byte ↔ unicode map: each of the 256 byte values is shown as one printable character,
 * so a byte-level vocabulary can be stored as JSON strings (`"Ġthe"` is `" the"`).
 *
 * @module
 */

/** `BYTE_TO_CHAR[b]` is the character that stands for byte `b` in a byte-level vocabulary. */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n);
      n++;
    }
  }
  const out = new Array<string>(256);
  for (let i = 0; i < bs.length; i++) out[bs[i]] = String.fromCharCode(cs[i]);
  return out;
})();

/** The inverse of {@link BYTE_TO_CHAR}: character code → byte value. */
export const CHAR_TO_BYTE: ReadonlyMap<number, number> = new Map(
  BYTE_TO_CHAR.map((c, b) => [c.charCodeAt(0), b]),
);

/** The 256 byte characters sorted by code point (the order Hugging Face gives them ids). */
export const BYTE_ALPHABET: readonly string[] = BYTE_TO_CHAR.slice().sort((a, b) =>
  a.charCodeAt(0) - b.charCodeAt(0)
);

/**
 * Raw bytes of a byte-level token string, or `undefined` when a character is not one of the
 * 256 byte characters (then the token is not byte-level, e.g. an added token).
 */
export function byteLevelToBytes(token: string): Uint8Array | undefined {
  const out = new Uint8Array(token.length);
  for (let i = 0; i < token.length; i++) {
    const c = token.charCodeAt(i);
    const b = c < CODE_TO_BYTE.length ? CODE_TO_BYTE[c] : -1;
    if (b < 0) return undefined;
    out[i] = b;
  }
  return out;
}

// CHAR_TO_BYTE as a table (the byte characters are all below U+0144).
const CODE_TO_BYTE = (() => {
  const t = new Int16Array(0x144).fill(-1);
  BYTE_TO_CHAR.forEach((c, b) => t[c.charCodeAt(0)] = b);
  return t;
})();
