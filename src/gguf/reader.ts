/**
 * Reading GGUF files (v2 and v3): the header, metadata and tensor infos are parsed from the
 * mapped bytes (`mmap` through the native shim, or read into memory without it), every length
 * and offset checked against the file's size before anything is allocated, so a truncated or
 * lying file ends with one line naming the file and what is wrong — never a hang or an
 * out-of-memory. Tensor values are converted to float32 (or kept as quantized blocks) only when
 * asked for.
 *
 * @module
 */
import { BenteviError } from "../errors.ts";
import { convertTensorBytes } from "../io/safetensors.ts";
import { mapFile, type MappedFile } from "../native/mmap.ts";
import { dequantize, type QuantType } from "../quant/mod.ts";
import {
  GGML_MAX_DIMS,
  GGML_TYPES,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_VALUE_BYTES,
  GGUF_VALUE_TYPES,
  type GgufValueType,
} from "./format.ts";

/** A metadata value: numbers (64-bit integers beyond 2⁵³ as bigint), booleans, strings, arrays. */
export type GgufValue = number | bigint | boolean | string | GgufValue[];

/** One metadata entry with its type in the file. */
export interface GgufEntry {
  /** The value type (for arrays, `array`). */
  type: GgufValueType;
  /** The element type of an array. */
  itemType?: GgufValueType;
  /** The value. */
  value: GgufValue;
}

/** Where one tensor lies in a GGUF file and how it is stored. */
export interface GgufTensorInfo {
  /** Its name (`blk.0.attn_qkv.weight`…). */
  name: string;
  /** Dimensions as ggml lists them, innermost (the row) first. */
  dims: number[];
  /** Dimensions outermost first (row-major, as PyTorch would list them). */
  shape: number[];
  /** ggml type name (`F32`, `Q8_0`…). */
  type: string;
  /** Number of values. */
  count: number;
  /** First byte of its data in the file. */
  begin: number;
  /** Bytes of data. */
  byteLength: number;
}

/** An open GGUF file. */
export interface GgufFile {
  /** The path it was opened from (messages name it). */
  path: string;
  /** Format version (2 or 3). */
  version: number;
  /** Metadata entries in file order. */
  metadata: Map<string, GgufEntry>;
  /** Tensors in file order. */
  tensors: Map<string, GgufTensorInfo>;
  /** Alignment of the tensor data. */
  alignment: number;
  /** Where the tensor data begins. */
  dataOffset: number;
  /** The file's bytes (mapped when the native shim is there). */
  bytes: Uint8Array;
  /** Whether {@link GgufFile.bytes} is a memory mapping. */
  mapped: boolean;
  /** Releases the mapping (the file's tensors must not be read afterwards). */
  close(): void;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * `text` with its control characters escaped (`\u000a`): keys and names read from a file go
 * into error messages, which must stay one line.
 *
 * @example
 * ```ts
 * import { oneLineText } from "./reader.ts";
 * console.log(oneLineText("general.name\nx")); // general.name\u000ax
 * ```
 */
export function oneLineText(text: string): string {
  return text.replace(
    // deno-lint-ignore no-control-regex -- control characters are what this escapes
    /[\u0000-\u001f\u007f]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

class Cursor {
  pos = 0;
  readonly view: DataView;
  constructor(readonly bytes: Uint8Array, readonly path: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  fail(what: string): never {
    throw new BenteviError(`${this.path}: not a valid GGUF file: ${oneLineText(what)}`);
  }
  need(n: number, what: string): void {
    if (n > this.bytes.length - this.pos) {
      this.fail(`truncated at byte ${this.pos} (${what} needs ${n} bytes, ${this.remaining} left)`);
    }
  }
  get remaining(): number {
    return this.bytes.length - this.pos;
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  /** A u64 as a number; values past 2⁵³ are refused (no file of that size exists). */
  size(what: string): number {
    this.need(8, what);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`${what} ${v} is impossibly large`);
    return Number(v);
  }
  string(what: string): string {
    const n = this.size(`${what} length`);
    this.need(n, what);
    const raw = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    try {
      return utf8.decode(raw);
    } catch {
      return this.fail(`${what} at byte ${this.pos - n} is not UTF-8`);
    }
  }
  scalar(type: GgufValueType, what: string): number | bigint | boolean {
    const size = GGUF_VALUE_BYTES[type];
    this.need(size, what);
    const p = this.pos, v = this.view;
    this.pos += size;
    switch (type) {
      case "u8":
        return v.getUint8(p);
      case "i8":
        return v.getInt8(p);
      case "u16":
        return v.getUint16(p, true);
      case "i16":
        return v.getInt16(p, true);
      case "u32":
        return v.getUint32(p, true);
      case "i32":
        return v.getInt32(p, true);
      case "f32":
        return v.getFloat32(p, true);
      case "f64":
        return v.getFloat64(p, true);
      case "bool": {
        const b = v.getUint8(p);
        if (b > 1) this.fail(`${what}: boolean ${b} is neither 0 nor 1`);
        return b === 1;
      }
      case "u64": {
        const x = v.getBigUint64(p, true);
        return x <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(x) : x;
      }
      case "i64": {
        const x = v.getBigInt64(p, true);
        return x <= BigInt(Number.MAX_SAFE_INTEGER) && x >= -BigInt(Number.MAX_SAFE_INTEGER)
          ? Number(x)
          : x;
      }
      default:
        return this.fail(`${what}: ${type} is not a scalar type`);
    }
  }
  valueType(what: string): GgufValueType {
    const id = this.u32(`${what} type`);
    const type = GGUF_VALUE_TYPES[id];
    if (type === undefined) this.fail(`${what} has unknown value type ${id}`);
    return type;
  }
  entry(key: string): GgufEntry {
    const type = this.valueType(`metadata ${key}`);
    if (type === "string") return { type, value: this.string(`metadata ${key}`) };
    if (type !== "array") return { type, value: this.scalar(type, `metadata ${key}`) };
    const itemType = this.valueType(`metadata ${key} array item`);
    const n = this.size(`metadata ${key} array length`);
    // Every element takes at least its minimum size: a length the file cannot hold is a lie.
    const least = itemType === "array" ? 12 : GGUF_VALUE_BYTES[itemType];
    if (n > this.remaining / least) {
      this.fail(`metadata ${key} says ${n} array elements but only ${this.remaining} bytes remain`);
    }
    if (itemType === "array") this.fail(`metadata ${key}: nested arrays are not supported`);
    const out: GgufValue[] = new Array(n);
    if (itemType === "string") {
      for (let i = 0; i < n; i++) out[i] = this.string(`metadata ${key}[${i}]`);
    } else {
      for (let i = 0; i < n; i++) out[i] = this.scalar(itemType, `metadata ${key}[${i}]`);
    }
    return { type, itemType, value: out };
  }
}

/**
 * Parses a GGUF file's bytes (header, metadata, tensor infos), checking them against its size.
 * `path` names the file in errors. The bytes are kept (tensors are read from them later).
 *
 * @example
 * ```ts
 * import { parseGguf } from "./reader.ts";
 * try {
 *   parseGguf(new TextEncoder().encode("GGUF"), "x.gguf");
 * } catch (e) {
 *   console.log((e as Error).message); // x.gguf: not a valid GGUF file: truncated at byte 4 (version needs 4 bytes, 0 left)
 * }
 * ```
 */
export function parseGguf(
  bytes: Uint8Array,
  path: string,
): Omit<GgufFile, "close" | "mapped"> {
  const c: Cursor = new Cursor(bytes, path);
  if (bytes.length < 4 || c.view.getUint32(0, true) !== GGUF_MAGIC) {
    throw new BenteviError(`${path}: not a GGUF file (no "GGUF" magic at its start)`);
  }
  c.pos = 4;
  const version = c.u32("version");
  if (version === 1) {
    throw new BenteviError(
      `${path}: GGUF version 1 is not supported (Bentevi reads versions 2 and 3)`,
    );
  }
  if (version !== 2 && version !== 3) {
    throw new BenteviError(
      `${path}: GGUF version ${version} is not supported (Bentevi reads 2 and 3)`,
    );
  }
  const nTensors = c.size("tensor count");
  const nKv = c.size("metadata count");
  // A key is at least 8 bytes of length + a 4-byte type + a 1-byte value; a tensor info at
  // least 8 + 4 + 4 + 8 bytes.
  if (nKv > c.remaining / 13) c.fail(`${nKv} metadata entries cannot fit in the file`);
  if (nTensors > c.remaining / 24) c.fail(`${nTensors} tensors cannot fit in the file`);
  const metadata = new Map<string, GgufEntry>();
  for (let i = 0; i < nKv; i++) {
    const key = c.string(`metadata key ${i}`);
    if (metadata.has(key)) c.fail(`metadata key ${key} appears twice`);
    metadata.set(key, c.entry(key));
  }
  let alignment = GGUF_DEFAULT_ALIGNMENT;
  const align = metadata.get("general.alignment");
  if (align) {
    const a = align.value;
    if (align.type !== "u32" || typeof a !== "number" || a < 1 || (a & (a - 1)) !== 0) {
      c.fail(`general.alignment ${a} is not a power of two (u32)`);
    }
    alignment = a as number;
  }
  const infos: {
    name: string;
    dims: number[];
    type: string;
    blockBytes: number;
    offset: number;
    count: number;
  }[] = [];
  const names = new Set<string>();
  for (let i = 0; i < nTensors; i++) {
    const name = c.string(`tensor ${i} name`);
    if (names.has(name)) c.fail(`tensor ${name} appears twice`);
    names.add(name);
    const nDims = c.u32(`tensor ${name} dimension count`);
    if (nDims < 1 || nDims > GGML_MAX_DIMS) c.fail(`tensor ${name} has ${nDims} dimensions (1–4)`);
    const dims: number[] = [];
    let count = 1;
    for (let d = 0; d < nDims; d++) {
      const n = c.size(`tensor ${name} dimension`);
      if (n < 1) c.fail(`tensor ${name} has a dimension of ${n}`);
      dims.push(n);
      count *= n;
      if (count > bytes.length * 8) c.fail(`tensor ${name} has more values than the file can hold`);
    }
    const typeId = c.u32(`tensor ${name} type`);
    const type = GGML_TYPES.get(typeId);
    if (!type) c.fail(`tensor ${name} has unknown ggml type ${typeId}`);
    if (dims[0] % type.blockSize !== 0) {
      c.fail(
        `tensor ${name}: rows of ${
          dims[0]
        } values are not whole ${type.name} blocks of ${type.blockSize}`,
      );
    }
    const offset = c.size(`tensor ${name} offset`);
    if (offset % alignment !== 0) {
      c.fail(`tensor ${name} offset ${offset} is not a multiple of the alignment ${alignment}`);
    }
    infos.push({
      name,
      dims,
      type: type.name,
      blockBytes: type.blockBytes,
      offset,
      count: count / type.blockSize,
    });
  }
  const dataOffset = Math.ceil(c.pos / alignment) * alignment;
  if (dataOffset > bytes.length && nTensors > 0) {
    c.fail(`the tensor data (at byte ${dataOffset}) is past the end of the file`);
  }
  const tensors = new Map<string, GgufTensorInfo>();
  const spans: [number, number, string][] = [];
  for (const t of infos) {
    const byteLength = t.count * t.blockBytes;
    const begin = dataOffset + t.offset;
    if (begin + byteLength > bytes.length) {
      c.fail(
        `tensor ${t.name} (bytes ${begin}–${
          begin + byteLength
        }) runs past the end of the file (${bytes.length} bytes)`,
      );
    }
    spans.push([begin, begin + byteLength, t.name]);
    const count = t.dims.reduce((a, b) => a * b, 1);
    tensors.set(t.name, {
      name: t.name,
      dims: t.dims,
      shape: [...t.dims].reverse(),
      type: t.type,
      count,
      begin,
      byteLength,
    });
  }
  spans.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i][0] < spans[i - 1][1]) {
      c.fail(`tensors ${spans[i - 1][2]} and ${spans[i][2]} overlap`);
    }
  }
  return { path, version, metadata, tensors, alignment, dataOffset, bytes };
}

/**
 * Opens a GGUF file: mapped through the native shim (read without it) and parsed.
 *
 * @example
 * ```ts
 * import { openGguf } from "./reader.ts";
 * try {
 *   openGguf("/no/such/model.gguf");
 * } catch (e) {
 *   console.log((e as Error).message);
 * }
 * ```
 */
export function openGguf(path: string): GgufFile {
  let file: MappedFile;
  try {
    file = mapFile(path, { advice: "normal" });
  } catch (e) {
    if (e instanceof BenteviError) throw e;
    throw new BenteviError(`${path}: cannot read it (${(e as Error).message})`);
  }
  try {
    return { ...parseGguf(file.bytes, path), mapped: file.mapped, close: () => file.close() };
  } catch (e) {
    file.close();
    throw e;
  }
}

/** The raw bytes of a tensor (a view into the file; valid until the file is closed). */
export function tensorBytes(file: Pick<GgufFile, "bytes">, t: GgufTensorInfo): Uint8Array {
  return file.bytes.subarray(t.begin, t.begin + t.byteLength);
}

/**
 * A tensor's values as float32 (F32, F16 and BF16 converted; Q8_0 and Q4_0 dequantized);
 * another type is refused naming it.
 *
 * @example
 * ```ts
 * import { readGgufTensor } from "./reader.ts";
 * const bytes = new Uint8Array(new Float32Array([1, 2]).buffer);
 * const t = { name: "w", dims: [2], shape: [2], type: "F32", count: 2, begin: 0, byteLength: 8 };
 * console.log(readGgufTensor({ bytes, path: "x.gguf" }, t)); // Float32Array(2) [ 1, 2 ]
 * ```
 */
export function readGgufTensor(
  file: Pick<GgufFile, "bytes" | "path">,
  t: GgufTensorInfo,
): Float32Array {
  const raw = tensorBytes(file, t);
  switch (t.type) {
    case "F32":
    case "F16":
    case "BF16":
      return convertTensorBytes(raw, t.type, t.count, {
        name: file.path,
        tensor: t.name,
        finite: true,
      });
    case "Q8_0":
    case "Q4_0":
      return dequantize(t.type.toLowerCase() as QuantType, raw, t.count);
    default:
      throw new BenteviError(
        `${file.path}: tensor ${t.name} has type ${t.type}, which Bentevi does not read (F32, F16, BF16, Q8_0, Q4_0)`,
      );
  }
}

/**
 * A metadata value of the file, or `undefined` when absent.
 *
 * @example
 * ```ts
 * import { ggufValue } from "./reader.ts";
 * const metadata = new Map([["general.architecture", { type: "string" as const, value: "gpt2" }]]);
 * console.log(ggufValue({ metadata }, "general.architecture")); // gpt2
 * ```
 */
export function ggufValue(file: Pick<GgufFile, "metadata">, key: string): GgufValue | undefined {
  return file.metadata.get(key)?.value;
}
