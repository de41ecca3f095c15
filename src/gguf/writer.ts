/**
 * Writing GGUF files (version 3): metadata with explicit value types, tensor infos at aligned
 * offsets, then each tensor's bytes, produced one at a time (so a model is never held twice in
 * memory) and written atomically (a temporary name, then a rename).
 *
 * @module
 */
import { withAtomicFile } from "../io/atomic.ts";
import {
  GGML_READABLE,
  GGML_TYPES,
  type GgmlReadableType,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_VALUE_TYPES,
  GGUF_VERSION,
  type GgufValueType,
} from "./format.ts";

/** A metadata value with its type, as written. */
export type GgufWriteValue =
  | { type: Exclude<GgufValueType, "array" | "string" | "bool">; value: number }
  | { type: "bool"; value: boolean }
  | { type: "string"; value: string }
  | { type: "array"; itemType: "string"; value: readonly string[] }
  | {
    type: "array";
    itemType: Exclude<GgufValueType, "array" | "string" | "bool">;
    value: ArrayLike<number>;
  };

/** One tensor to write. */
export interface GgufWriteTensor {
  /** Its name. */
  name: string;
  /** Dimensions outermost first (row-major); written innermost first, as ggml lists them. */
  shape: number[];
  /** Storage type. */
  type: GgmlReadableType;
  /** Its encoded bytes (called once, when the tensor is written). */
  data: () => Uint8Array;
}

/** Metadata helpers: `u32(5)` is `{ type: "u32", value: 5 }`, and so on. */
export const gguf = {
  u32: (value: number): GgufWriteValue => ({ type: "u32", value }),
  i32: (value: number): GgufWriteValue => ({ type: "i32", value }),
  f32: (value: number): GgufWriteValue => ({ type: "f32", value }),
  bool: (value: boolean): GgufWriteValue => ({ type: "bool", value }),
  string: (value: string): GgufWriteValue => ({ type: "string", value }),
  strings: (value: readonly string[]): GgufWriteValue => ({
    type: "array",
    itemType: "string",
    value,
  }),
  i32s: (value: ArrayLike<number>): GgufWriteValue => ({ type: "array", itemType: "i32", value }),
  f32s: (value: ArrayLike<number>): GgufWriteValue => ({ type: "array", itemType: "f32", value }),
};

class ByteSink {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;
  private grow(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u32(v: number): void {
    this.grow(4);
    this.view.setUint32(this.length, v, true);
    this.length += 4;
  }
  u64(v: number): void {
    this.grow(8);
    this.view.setBigUint64(this.length, BigInt(v), true);
    this.length += 8;
  }
  bytes(b: Uint8Array): void {
    this.grow(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  string(s: string): void {
    const b = new TextEncoder().encode(s);
    this.u64(b.length);
    this.bytes(b);
  }
  scalar(type: GgufValueType, v: number | boolean): void {
    this.grow(8);
    const p = this.length, d = this.view;
    switch (type) {
      case "u8":
        d.setUint8(p, v as number);
        this.length += 1;
        return;
      case "i8":
        d.setInt8(p, v as number);
        this.length += 1;
        return;
      case "bool":
        d.setUint8(p, v ? 1 : 0);
        this.length += 1;
        return;
      case "u16":
        d.setUint16(p, v as number, true);
        this.length += 2;
        return;
      case "i16":
        d.setInt16(p, v as number, true);
        this.length += 2;
        return;
      case "u32":
        d.setUint32(p, v as number, true);
        this.length += 4;
        return;
      case "i32":
        d.setInt32(p, v as number, true);
        this.length += 4;
        return;
      case "f32":
        d.setFloat32(p, v as number, true);
        this.length += 4;
        return;
      case "u64":
        d.setBigUint64(p, BigInt(v as number), true);
        this.length += 8;
        return;
      case "i64":
        d.setBigInt64(p, BigInt(v as number), true);
        this.length += 8;
        return;
      case "f64":
        d.setFloat64(p, v as number, true);
        this.length += 8;
        return;
      default:
        throw new Error(`GGUF writer: ${type} is not a scalar type`);
    }
  }
  pad(alignment: number): void {
    const n = (alignment - (this.length % alignment)) % alignment;
    this.grow(n);
    this.buf.fill(0, this.length, this.length + n);
    this.length += n;
  }
  take(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

function typeId(t: GgufValueType): number {
  return GGUF_VALUE_TYPES.indexOf(t);
}

/** Bytes a tensor of `type` with `count` values takes. */
export function ggmlByteLength(type: GgmlReadableType, count: number): number {
  const t = GGML_TYPES.get(GGML_READABLE[type])!;
  return (count / t.blockSize) * t.blockBytes;
}

/**
 * The header of a GGUF file (everything before the tensor data, padded to the alignment) and
 * each tensor's offset from the start of the data.
 */
export function encodeGgufHeader(
  metadata: ReadonlyMap<string, GgufWriteValue>,
  tensors: readonly Omit<GgufWriteTensor, "data">[],
  alignment = GGUF_DEFAULT_ALIGNMENT,
): { header: Uint8Array; offsets: number[]; sizes: number[] } {
  const s = new ByteSink();
  s.u32(GGUF_MAGIC);
  s.u32(GGUF_VERSION);
  s.u64(tensors.length);
  s.u64(metadata.size);
  for (const [key, v] of metadata) {
    s.string(key);
    s.u32(typeId(v.type));
    if (v.type === "string") s.string(v.value);
    else if (v.type === "array") {
      s.u32(typeId(v.itemType));
      s.u64(v.value.length);
      if (v.itemType === "string") { for (const x of v.value as readonly string[]) s.string(x); }
      else {
        const arr = v.value as ArrayLike<number>;
        for (let i = 0; i < arr.length; i++) s.scalar(v.itemType, arr[i]);
      }
    } else s.scalar(v.type, v.value);
  }
  const offsets: number[] = [], sizes: number[] = [];
  let offset = 0;
  for (const t of tensors) {
    s.string(t.name);
    s.u32(t.shape.length);
    for (let d = t.shape.length - 1; d >= 0; d--) s.u64(t.shape[d]);
    s.u32(GGML_READABLE[t.type]);
    s.u64(offset);
    const size = ggmlByteLength(t.type, t.shape.reduce((a, b) => a * b, 1));
    offsets.push(offset);
    sizes.push(size);
    offset += Math.ceil(size / alignment) * alignment;
  }
  s.pad(alignment);
  return { header: s.take(), offsets, sizes };
}

/**
 * Writes a GGUF v3 file atomically: `metadata` in order (`general.alignment` is honoured when
 * present), then `tensors`, each produced by its `data()` when its turn comes.
 *
 * @example
 * ```ts
 * import { gguf, writeGguf } from "./writer.ts";
 * import { openGguf } from "./reader.ts";
 * const path = await Deno.makeTempFile({ suffix: ".gguf" });
 * await writeGguf(path, new Map([["general.architecture", gguf.string("gpt2")]]), [
 *   { name: "w", shape: [2, 32], type: "F32", data: () => new Uint8Array(256) },
 * ]);
 * const f = openGguf(path);
 * console.log(f.tensors.get("w")!.dims); // [ 32, 2 ]
 * f.close();
 * ```
 */
export async function writeGguf(
  path: string,
  metadata: ReadonlyMap<string, GgufWriteValue>,
  tensors: readonly GgufWriteTensor[],
): Promise<void> {
  const a = metadata.get("general.alignment");
  const alignment = a && a.type === "u32" ? a.value : GGUF_DEFAULT_ALIGNMENT;
  const { header, sizes } = encodeGgufHeader(metadata, tensors, alignment);
  await withAtomicFile(path, async (file) => {
    const write = async (b: Uint8Array) => {
      let off = 0;
      while (off < b.length) off += await file.write(b.subarray(off));
    };
    await write(header);
    for (let i = 0; i < tensors.length; i++) {
      const bytes = tensors[i].data();
      if (bytes.length !== sizes[i]) {
        throw new Error(
          `writeGguf: tensor ${tensors[i].name} gave ${bytes.length} bytes, not ${sizes[i]}`,
        );
      }
      await write(bytes);
      const pad = (alignment - (bytes.length % alignment)) % alignment;
      if (pad) await write(new Uint8Array(pad));
    }
  });
}
