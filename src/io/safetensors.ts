/**
 * The safetensors format (Hugging Face): an 8-byte little-endian header length, a JSON
 * header mapping tensor names to `{dtype, shape, data_offsets}` (plus an optional
 * `__metadata__` map of strings), then the raw little-endian tensor bytes.
 *
 * Bentevi stores weights as F32 and reads F32, F16 and BF16 (converted to F32).
 * Every structural problem (bad header length, offsets out of range or overlapping,
 * unknown dtype, shape/size mismatch) is reported as a {@link BenteviError} naming the file.
 *
 * @module
 */
import { BenteviError, fsError } from "../errors.ts";
import { withAtomicFile } from "./atomic.ts";
import { halfToFloat } from "./float16.ts";

/** One tensor as Bentevi holds it: F32 data in row-major order with its shape. */
export interface NamedTensor {
  /** Dimensions, outermost first. */
  shape: number[];
  /** Row-major values. */
  data: Float32Array;
}

/** The contents of a safetensors file. */
export interface SafetensorsFile {
  /** Tensors by name, in file order. */
  tensors: Map<string, NamedTensor>;
  /** The `__metadata__` string map (empty when absent). */
  metadata: Record<string, string>;
}

const DTYPE_BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8 };

/** Options of {@link decodeSafetensors} and {@link readSafetensors}. */
export interface DecodeSafetensorsOptions {
  /**
   * Refuse a tensor holding NaN or ±∞, naming it (checked in the same pass that converts
   * the values; for weights, which are never legitimately non-finite).
   */
  finite?: boolean;
}

/**
 * Parses safetensors bytes. `name` is used in error messages. Refuses tensors that overlap,
 * leave bytes of the data section unused or run past it, and (with `finite`) NaN or ±∞.
 *
 * @example
 * ```ts
 * import { encodeSafetensors, decodeSafetensors } from "./safetensors.ts";
 * const bytes = encodeSafetensors(
 *   new Map([["w", { shape: [2], data: new Float32Array([1, 2]) }]]),
 *   { format: "pt" },
 * );
 * const file = decodeSafetensors(bytes);
 * console.log(file.tensors.get("w")!.data); // Float32Array [1, 2]
 * ```
 */
export function decodeSafetensors(
  bytes: Uint8Array,
  name = "safetensors",
  options: DecodeSafetensorsOptions = {},
): SafetensorsFile {
  const bad = (why: string) => new BenteviError(`${name}: not a valid safetensors file (${why})`);
  if (bytes.length < 8) throw bad("shorter than its 8-byte header length");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (headerLen < 2 || 8 + headerLen > bytes.length) {
    throw bad(`header length ${headerLen} does not fit in ${bytes.length} bytes`);
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(
      bytes.subarray(8, 8 + headerLen),
    ));
  } catch {
    throw bad("header is not JSON");
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw bad("header is not a JSON object");
  }
  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, NamedTensor>();
  const spans: [number, number, string][] = [];
  for (const [key, value] of Object.entries(header)) {
    if (key === "__metadata__") {
      if (value && typeof value === "object") {
        for (const [k, v] of Object.entries(value)) metadata[k] = String(v);
      }
      continue;
    }
    const info = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dtype = String(info?.dtype);
    const width = DTYPE_BYTES[dtype];
    if (!width) throw bad(`tensor ${key} has unsupported dtype ${dtype}`);
    const shape = info.shape;
    const offs = info.data_offsets;
    if (
      !Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0) ||
      !Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isInteger(o))
    ) {
      throw bad(`tensor ${key} has a malformed shape or data_offsets`);
    }
    const [begin, end] = offs as [number, number];
    if (begin < 0 || end < begin || end > dataLen) {
      throw bad(`tensor ${key} offsets [${begin}, ${end}] are outside the ${dataLen} data bytes`);
    }
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (count * width !== end - begin) {
      throw bad(
        `tensor ${key} of shape [${shape}] ${dtype} needs ${count * width} bytes, has ${
          end - begin
        }`,
      );
    }
    spans.push([begin, end, key]);
    const raw = bytes.subarray(dataStart + begin, dataStart + end);
    const rv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const data = new Float32Array(count);
    // `check` stays 0 unless a value is NaN or ±∞ (NaN·0 and ∞·0 are NaN): the same pass.
    let check = 0;
    if (dtype === "F32") {
      for (let i = 0; i < count; i++) check += (data[i] = rv.getFloat32(i * 4, true)) * 0;
    } else if (dtype === "F64") {
      for (let i = 0; i < count; i++) check += (data[i] = rv.getFloat64(i * 8, true)) * 0;
    } else if (dtype === "F16") {
      for (let i = 0; i < count; i++) {
        check += (data[i] = halfToFloat(rv.getUint16(i * 2, true))) * 0;
      }
    } else {
      const u = new Uint32Array(1);
      const f = new Float32Array(u.buffer);
      for (let i = 0; i < count; i++) {
        u[0] = rv.getUint16(i * 2, true) << 16;
        check += (data[i] = f[0]) * 0;
      }
    }
    if (options.finite && check !== 0) {
      const at = data.findIndex((x) => !Number.isFinite(x));
      throw new BenteviError(
        `${name}: tensor ${key} holds a non-finite value (${
          data[at]
        } at index ${at}); the weights are corrupt (a diverged run?)`,
      );
    }
    tensors.set(key, { shape: shape as number[], data });
  }
  spans.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let covered = 0;
  for (let i = 0; i < spans.length; i++) {
    if (i > 0 && spans[i][0] < spans[i - 1][1]) {
      throw bad(`tensors ${spans[i - 1][2]} and ${spans[i][2]} overlap`);
    }
    if (spans[i][0] > covered) {
      throw bad(`data bytes ${covered}…${spans[i][0]} belong to no tensor`);
    }
    covered = spans[i][1];
  }
  if (covered !== dataLen) {
    throw bad(`the last ${dataLen - covered} data bytes belong to no tensor`);
  }
  return { tensors, metadata };
}

/**
 * Serialises F32 tensors (in the map's order) and string metadata to safetensors bytes.
 *
 * @example
 * ```ts
 * import { encodeSafetensors } from "./safetensors.ts";
 * const bytes = encodeSafetensors(new Map([["b", { shape: [1], data: new Float32Array([0.5]) }]]));
 * console.log(bytes.length > 8);
 * ```
 */
export function encodeSafetensors(
  tensors: Map<string, NamedTensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of tensors) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) {
      throw new Error(`tensor ${name}: shape [${t.shape}] does not match ${t.data.length} values`);
    }
    header[name] = { dtype: "F32", shape: t.shape, data_offsets: [offset, offset + count * 4] };
    offset += count * 4;
  }
  let json = JSON.stringify(header);
  // Pad the header so the data starts 8-byte aligned, as the reference writer does.
  while ((8 + new TextEncoder().encode(json).length) % 8 !== 0) json += " ";
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.length;
  const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  for (const t of tensors.values()) {
    if (littleEndian) {
      out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), pos);
    } else {
      const dv = new DataView(out.buffer, pos, t.data.byteLength);
      for (let i = 0; i < t.data.length; i++) dv.setFloat32(i * 4, t.data[i], true);
    }
    pos += t.data.byteLength;
  }
  return out;
}

/**
 * Reads and validates a safetensors file.
 *
 * @example
 * ```ts
 * import { readSafetensors, writeSafetensors } from "./safetensors.ts";
 * const path = await Deno.makeTempFile({ suffix: ".safetensors" });
 * await writeSafetensors(path, new Map([["x", { shape: [1], data: new Float32Array([3]) }]]));
 * console.log((await readSafetensors(path)).tensors.get("x")!.data[0]); // 3
 * ```
 */
export async function readSafetensors(
  path: string,
  options: DecodeSafetensorsOptions = {},
): Promise<SafetensorsFile> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw fsError(e, path);
  }
  return decodeSafetensors(bytes, path, options);
}

/**
 * Writes tensors and metadata to `path` atomically.
 *
 * @example
 * ```ts
 * import { writeSafetensors } from "./safetensors.ts";
 * const path = await Deno.makeTempFile({ suffix: ".safetensors" });
 * await writeSafetensors(path, new Map([["x", { shape: [1], data: new Float32Array([3]) }]]), {
 *   bentevi_model: "gpt",
 * });
 * ```
 */
export async function writeSafetensors(
  path: string,
  tensors: Map<string, NamedTensor>,
  metadata: Record<string, string> = {},
): Promise<void> {
  await withAtomicFile(path, async (file) => {
    const bytes = encodeSafetensors(tensors, metadata);
    let off = 0;
    while (off < bytes.length) off += await file.write(bytes.subarray(off));
  });
}
