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
import { halfToFloatTable } from "./float16.ts";

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

/** Bytes per value of each dtype Bentevi reads (converted to F32). */
const DTYPE_BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8 };

/** The dtypes Bentevi reads, as safetensors names them. */
export type SafetensorsDType = "F32" | "F16" | "BF16" | "F64";

/** Largest header Bentevi reads (the Hugging Face reader's limit too). */
export const MAX_HEADER_BYTES = 100_000_000;

/** Options of {@link decodeSafetensors} and {@link readSafetensors}. */
export interface DecodeSafetensorsOptions {
  /**
   * Refuse a tensor holding NaN or ±∞, naming it (checked in the same pass that converts
   * the values; for weights, which are never legitimately non-finite).
   */
  finite?: boolean;
}

/** Where one tensor lies in a safetensors file (from its header; no data read). */
export interface TensorEntry {
  /** Name in the file. */
  name: string;
  /** Stored element type. */
  dtype: SafetensorsDType;
  /** Dimensions, outermost first. */
  shape: number[];
  /** Number of values. */
  count: number;
  /** First byte of its data, counted from the start of the file. */
  begin: number;
  /** One past its last byte, counted from the start of the file. */
  end: number;
}

/** The parsed and checked header of a safetensors file. */
export interface SafetensorsHeader {
  /** The file (or label) the header came from, used in messages. */
  path: string;
  /** Tensors by name, in header order. */
  tensors: Map<string, TensorEntry>;
  /** The `__metadata__` string map (empty when absent). */
  metadata: Record<string, string>;
  /** Size of the whole file in bytes. */
  fileSize: number;
}

/**
 * Checks a safetensors header (the JSON after the 8-byte length) against the size of the whole
 * file: known dtypes, well-formed shapes and offsets, no overlap, no data byte left unused.
 * Reads no tensor data.
 *
 * @example
 * ```ts
 * import { parseSafetensorsHeader } from "./safetensors.ts";
 * const json = new TextEncoder().encode('{"w":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}');
 * const h = parseSafetensorsHeader(json, 8 + json.length + 4, "w.safetensors");
 * console.log(h.tensors.get("w")!.dtype); // BF16
 * ```
 */
export function parseSafetensorsHeader(
  headerBytes: Uint8Array,
  fileSize: number,
  name = "safetensors",
): SafetensorsHeader {
  const bad = (why: string) => new BenteviError(`${name}: not a valid safetensors file (${why})`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(headerBytes));
  } catch {
    throw bad("header is not JSON");
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw bad("header is not a JSON object");
  }
  const dataStart = 8 + headerBytes.length;
  const dataLen = fileSize - dataStart;
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, TensorEntry>();
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
    if (!width) {
      throw new BenteviError(
        `${name}: tensor ${key} has unsupported dtype ${dtype} (Bentevi reads F32, F16, BF16 and F64; quantized or integer weights are not read)`,
      );
    }
    const shape = info.shape;
    const offs = info.data_offsets;
    if (
      !Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0) ||
      !Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o))
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
    tensors.set(key, {
      name: key,
      dtype: dtype as SafetensorsDType,
      shape: shape as number[],
      count,
      begin: dataStart + begin,
      end: dataStart + end,
    });
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
  return { path: name, tensors, metadata, fileSize };
}

/** The header length stored in the first 8 bytes, checked against the file size. */
function headerLength(first8: Uint8Array, fileSize: number, name: string): number {
  const bad = (why: string) => new BenteviError(`${name}: not a valid safetensors file (${why})`);
  if (fileSize < 8) throw bad("shorter than its 8-byte header length");
  const n = Number(new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true));
  if (n < 2 || 8 + n > fileSize) {
    throw bad(`header length ${n} does not fit in ${fileSize} bytes`);
  }
  if (n > MAX_HEADER_BYTES) throw bad(`header length ${n} is over ${MAX_HEADER_BYTES} bytes`);
  return n;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Converts `data.length` values of `dtype` from `raw` (little-endian) into `data`. */
function convertInto(raw: Uint8Array, dtype: SafetensorsDType, data: Float32Array): void {
  const count = data.length;
  const aligned = (w: number) => LITTLE_ENDIAN && raw.byteOffset % w === 0;
  if (dtype === "F32") {
    if (LITTLE_ENDIAN) {
      new Uint8Array(data.buffer, data.byteOffset, count * 4).set(raw.subarray(0, count * 4));
    } else {
      const rv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      for (let i = 0; i < count; i++) data[i] = rv.getFloat32(i * 4, true);
    }
  } else if (dtype === "F64") {
    const rv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < count; i++) data[i] = rv.getFloat64(i * 8, true);
  } else {
    let u16: Uint16Array;
    if (aligned(2)) u16 = new Uint16Array(raw.buffer, raw.byteOffset, count);
    else {
      u16 = new Uint16Array(count);
      const rv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      for (let i = 0; i < count; i++) u16[i] = rv.getUint16(i * 2, true);
    }
    if (dtype === "BF16") {
      const bits = new Int32Array(data.buffer, data.byteOffset, count);
      for (let i = 0; i < count; i++) bits[i] = u16[i] << 16;
    } else {
      const table = halfToFloatTable();
      for (let i = 0; i < count; i++) data[i] = table[u16[i]];
    }
  }
}

/**
 * Converts the raw little-endian bytes of one tensor to F32 (`raw.length` must be
 * `count · width`). With `finite`, a NaN or ±∞ is refused naming `name` and `tensor`.
 * `raw` is not kept; an F32 tensor whose bytes are 4-aligned is copied once.
 *
 * @example
 * ```ts
 * import { convertTensorBytes } from "./safetensors.ts";
 * const bf16 = new Uint8Array([0x80, 0x3f, 0x00, 0xc0]); // 1, -2
 * console.log(convertTensorBytes(bf16, "BF16", 2)); // Float32Array [1, -2]
 * ```
 */
export function convertTensorBytes(
  raw: Uint8Array,
  dtype: SafetensorsDType,
  count: number,
  options: DecodeSafetensorsOptions & { name?: string; tensor?: string } = {},
): Float32Array {
  const data = new Float32Array(count);
  convertInto(raw, dtype, data);
  if (options.finite) convertCheck(data, options.name ?? "safetensors", options.tensor ?? "?");
  return data;
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
  const n = headerLength(bytes.subarray(0, 8), bytes.length, name);
  const header = parseSafetensorsHeader(bytes.subarray(8, 8 + n), bytes.length, name);
  const tensors = new Map<string, NamedTensor>();
  for (const e of header.tensors.values()) {
    const data = convertTensorBytes(bytes.subarray(e.begin, e.end), e.dtype, e.count, {
      ...options,
      name,
      tensor: e.name,
    });
    tensors.set(e.name, { shape: e.shape, data });
  }
  return { tensors, metadata: header.metadata };
}

/** The padded header (with its 8-byte length) of F32 `tensors`, and the data size. */
function f32Header(
  tensors: Map<string, NamedTensor>,
  metadata: Record<string, string>,
): { head: Uint8Array; dataBytes: number } {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of tensors) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    header[name] = { dtype: "F32", shape: t.shape, data_offsets: [offset, offset + count * 4] };
    offset += count * 4;
  }
  let json = JSON.stringify(header);
  // Pad the header so the data starts 8-byte aligned, as the reference writer does.
  while ((8 + new TextEncoder().encode(json).length) % 8 !== 0) json += " ";
  const headerBytes = new TextEncoder().encode(json);
  const head = new Uint8Array(8 + headerBytes.length);
  new DataView(head.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  head.set(headerBytes, 8);
  return { head, dataBytes: offset };
}

/** The little-endian F32 bytes of `t`, checked against its shape. */
function f32Bytes(name: string, t: NamedTensor): Uint8Array {
  const data = t.data; // read once: a lazily loaded tensor is read from disk on each access
  const count = t.shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw new Error(`tensor ${name}: shape [${t.shape}] does not match ${data.length} values`);
  }
  if (LITTLE_ENDIAN) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(data.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) dv.setFloat32(i * 4, data[i], true);
  return out;
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
  const { head, dataBytes } = f32Header(tensors, metadata);
  const out = new Uint8Array(head.length + dataBytes);
  out.set(head);
  let pos = head.length;
  for (const [name, t] of tensors) {
    const bytes = f32Bytes(name, t);
    out.set(bytes, pos);
    pos += bytes.length;
  }
  return out;
}

/**
 * Writes F32 tensors and metadata as safetensors to an open file, one tensor at a time (the
 * file is never assembled in memory: saving a model needs no second copy of its weights).
 *
 * @example
 * ```ts
 * import { readSafetensors, writeSafetensorsTo } from "./safetensors.ts";
 * const path = await Deno.makeTempFile({ suffix: ".safetensors" });
 * using file = await Deno.open(path, { write: true, truncate: true });
 * await writeSafetensorsTo(file, new Map([["x", { shape: [1], data: new Float32Array([2]) }]]));
 * console.log((await readSafetensors(path)).tensors.get("x")!.data[0]); // 2
 * ```
 */
export async function writeSafetensorsTo(
  file: Deno.FsFile,
  tensors: Map<string, NamedTensor>,
  metadata: Record<string, string> = {},
): Promise<void> {
  const write = async (bytes: Uint8Array) => {
    let off = 0;
    while (off < bytes.length) off += await file.write(bytes.subarray(off));
  };
  await write(f32Header(tensors, metadata).head);
  for (const [name, t] of tensors) await write(f32Bytes(name, t));
}

/**
 * Reads only the header of a safetensors file (8 bytes + the JSON), checked against the file's
 * size; tensor data is read later, one tensor at a time, with {@link readTensorSync}.
 *
 * @example
 * ```ts
 * import { readSafetensorsHeader, writeSafetensors } from "./safetensors.ts";
 * const path = await Deno.makeTempFile({ suffix: ".safetensors" });
 * await writeSafetensors(path, new Map([["x", { shape: [1, 2], data: new Float32Array(2) }]]));
 * console.log((await readSafetensorsHeader(path)).tensors.get("x")!.shape); // [1, 2]
 * ```
 */
export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader> {
  let file: Deno.FsFile | undefined;
  try {
    file = await Deno.open(path, { read: true });
    const size = (await file.stat()).size;
    const first = new Uint8Array(8);
    if (size >= 8) await readFull(file, first, 0, path);
    const n = headerLength(first, size, path);
    const json = new Uint8Array(n);
    await readFull(file, json, 8, path);
    return parseSafetensorsHeader(json, size, path);
  } catch (e) {
    throw fsError(e, path);
  } finally {
    file?.close();
  }
}

async function readFull(file: Deno.FsFile, buf: Uint8Array, at: number, path: string) {
  await file.seek(at, Deno.SeekMode.Start);
  let off = 0;
  while (off < buf.length) {
    const n = await file.read(buf.subarray(off));
    if (n === null) throw new BenteviError(`${path}: the file ended early (was it truncated?)`);
    off += n;
  }
}

/**
 * Reads one tensor of a file whose header came from {@link readSafetensorsHeader}, converting
 * it to F32: a positioned read of its bytes only, so a checkpoint is never held twice. The
 * file is re-opened and its size re-checked (a file changed since is refused, naming it).
 *
 * @example
 * ```ts
 * import { readSafetensorsHeader, readTensorSync, writeSafetensors } from "./safetensors.ts";
 * const path = await Deno.makeTempFile({ suffix: ".safetensors" });
 * await writeSafetensors(path, new Map([["x", { shape: [2], data: new Float32Array([4, 5]) }]]));
 * const header = await readSafetensorsHeader(path);
 * console.log(readTensorSync(header, "x")); // Float32Array [4, 5]
 * ```
 */
export function readTensorSync(
  header: SafetensorsHeader,
  tensor: string,
  options: DecodeSafetensorsOptions = {},
): Float32Array {
  const e = header.tensors.get(tensor);
  if (!e) throw new BenteviError(`${header.path}: no tensor ${tensor}`);
  const path = header.path;
  const data = new Float32Array(e.count);
  let file: Deno.FsFile | undefined;
  try {
    file = Deno.openSync(path, { read: true });
    if (file.statSync().size !== header.fileSize) {
      throw new BenteviError(`${path}: the file changed while it was being read`);
    }
    file.seekSync(e.begin, Deno.SeekMode.Start);
    const fill = (buf: Uint8Array) => {
      for (let off = 0; off < buf.length;) {
        const n = file!.readSync(buf.subarray(off));
        if (n === null) throw new BenteviError(`${path}: the file ended early (was it truncated?)`);
        off += n;
      }
    };
    if (e.dtype === "F32" && LITTLE_ENDIAN) fill(new Uint8Array(data.buffer));
    else {
      // Other dtypes go through one reused chunk buffer: no raw copy of the tensor is held.
      const width = DTYPE_BYTES[e.dtype];
      scratch ??= new Uint8Array(CHUNK_BYTES);
      for (let done = 0; done < e.count;) {
        const n = Math.min(e.count - done, CHUNK_BYTES / width);
        const raw = scratch.subarray(0, n * width);
        fill(raw);
        convertInto(raw, e.dtype, data.subarray(done, done + n));
        done += n;
      }
    }
  } catch (err) {
    throw fsError(err, path);
  } finally {
    file?.close();
  }
  if (options.finite) convertCheck(data, path, tensor);
  return data;
}

/** The chunk non-F32 tensors are read through (a multiple of every dtype's width). */
const CHUNK_BYTES = 1 << 22;
let scratch: Uint8Array | undefined;

/** Refuses a NaN or ±∞ in `data`, naming the file and the tensor. */
function convertCheck(data: Float32Array, name: string, tensor: string): void {
  // `check` stays 0 unless a value is NaN or ±∞ (NaN·0 and ∞·0 are NaN).
  let check = 0;
  for (let i = 0; i < data.length; i++) check += data[i] * 0;
  if (check !== 0) {
    const at = data.findIndex((x) => !Number.isFinite(x));
    throw new BenteviError(
      `${name}: tensor ${tensor} holds a non-finite value (${
        data[at]
      } at index ${at}); the weights are corrupt (a diverged run?)`,
    );
  }
}

/**
 * Reads and validates a safetensors file, one tensor at a time (the file's bytes are never
 * held whole beside the converted tensors).
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
  const header = await readSafetensorsHeader(path);
  const tensors = new Map<string, NamedTensor>();
  for (const e of header.tensors.values()) {
    tensors.set(e.name, { shape: e.shape, data: readTensorSync(header, e.name, options) });
  }
  return { tensors, metadata: header.metadata };
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
  await withAtomicFile(path, (file) => writeSafetensorsTo(file, tensors, metadata));
}
