/**
 * The GGUF file format (llama.cpp / ggml), versions 2 and 3: the constants both the reader and
 * the writer use — magic, metadata value types, ggml tensor types with their block sizes.
 *
 * Layout: `"GGUF"`, version (u32), tensor count (u64), metadata count (u64); the metadata
 * (key string, value type u32, value); one info per tensor (name, dimension count u32, the
 * dimensions innermost first as u64, ggml type u32, data offset u64); padding to the alignment
 * (`general.alignment`, default 32); the tensor data, each tensor at its offset from there
 * (a multiple of the alignment). Strings are a u64 byte length then UTF-8 bytes. All little
 * endian.
 *
 * @module
 */

/** `"GGUF"` read as a little-endian u32. */
export const GGUF_MAGIC = 0x46554747;

/** The alignment of tensor data when `general.alignment` does not say (ggml's default). */
export const GGUF_DEFAULT_ALIGNMENT = 32;

/** The version Bentevi writes. */
export const GGUF_VERSION = 3;

/** Metadata value types, by their id in the file. */
export const GGUF_VALUE_TYPES = [
  "u8",
  "i8",
  "u16",
  "i16",
  "u32",
  "i32",
  "f32",
  "bool",
  "string",
  "array",
  "u64",
  "i64",
  "f64",
] as const;

/** A metadata value type. */
export type GgufValueType = typeof GGUF_VALUE_TYPES[number];

/** Bytes of one value of each fixed-size metadata type (strings and arrays: their minimum). */
export const GGUF_VALUE_BYTES: Readonly<Record<GgufValueType, number>> = {
  u8: 1,
  i8: 1,
  u16: 2,
  i16: 2,
  u32: 4,
  i32: 4,
  f32: 4,
  bool: 1,
  string: 8,
  array: 12,
  u64: 8,
  i64: 8,
  f64: 8,
};

/** A ggml tensor type: its name, values per block and bytes per block. */
export interface GgmlType {
  /** ggml's name (`F32`, `Q8_0`…). */
  name: string;
  /** Values per block (1 for plain floats). */
  blockSize: number;
  /** Bytes per block. */
  blockBytes: number;
}

/**
 * The ggml tensor types by id (ggml.h's `enum ggml_type`): every type a GGUF file may hold, so
 * a file's layout is checked even where its values are not read. Bentevi reads F32, F16, BF16,
 * Q8_0 and Q4_0 ({@link GGML_READABLE}).
 */
export const GGML_TYPES: ReadonlyMap<number, GgmlType> = new Map([
  [0, { name: "F32", blockSize: 1, blockBytes: 4 }],
  [1, { name: "F16", blockSize: 1, blockBytes: 2 }],
  [2, { name: "Q4_0", blockSize: 32, blockBytes: 18 }],
  [3, { name: "Q4_1", blockSize: 32, blockBytes: 20 }],
  [6, { name: "Q5_0", blockSize: 32, blockBytes: 22 }],
  [7, { name: "Q5_1", blockSize: 32, blockBytes: 24 }],
  [8, { name: "Q8_0", blockSize: 32, blockBytes: 34 }],
  [9, { name: "Q8_1", blockSize: 32, blockBytes: 36 }],
  [10, { name: "Q2_K", blockSize: 256, blockBytes: 84 }],
  [11, { name: "Q3_K", blockSize: 256, blockBytes: 110 }],
  [12, { name: "Q4_K", blockSize: 256, blockBytes: 144 }],
  [13, { name: "Q5_K", blockSize: 256, blockBytes: 176 }],
  [14, { name: "Q6_K", blockSize: 256, blockBytes: 210 }],
  [15, { name: "Q8_K", blockSize: 256, blockBytes: 292 }],
  [16, { name: "IQ2_XXS", blockSize: 256, blockBytes: 66 }],
  [17, { name: "IQ2_XS", blockSize: 256, blockBytes: 74 }],
  [18, { name: "IQ3_XXS", blockSize: 256, blockBytes: 98 }],
  [19, { name: "IQ1_S", blockSize: 256, blockBytes: 50 }],
  [20, { name: "IQ4_NL", blockSize: 32, blockBytes: 18 }],
  [21, { name: "IQ3_S", blockSize: 256, blockBytes: 110 }],
  [22, { name: "IQ2_S", blockSize: 256, blockBytes: 82 }],
  [23, { name: "IQ4_XS", blockSize: 256, blockBytes: 136 }],
  [24, { name: "I8", blockSize: 1, blockBytes: 1 }],
  [25, { name: "I16", blockSize: 1, blockBytes: 2 }],
  [26, { name: "I32", blockSize: 1, blockBytes: 4 }],
  [27, { name: "I64", blockSize: 1, blockBytes: 8 }],
  [28, { name: "F64", blockSize: 1, blockBytes: 8 }],
  [29, { name: "IQ1_M", blockSize: 256, blockBytes: 56 }],
  [30, { name: "BF16", blockSize: 1, blockBytes: 2 }],
  [34, { name: "TQ1_0", blockSize: 256, blockBytes: 54 }],
  [35, { name: "TQ2_0", blockSize: 256, blockBytes: 66 }],
]);

/** The tensor types Bentevi reads and writes. */
export type GgmlReadableType = "F32" | "F16" | "BF16" | "Q8_0" | "Q4_0";

/** The ids of {@link GgmlReadableType}. */
export const GGML_READABLE: Readonly<Record<GgmlReadableType, number>> = {
  F32: 0,
  F16: 1,
  BF16: 30,
  Q8_0: 8,
  Q4_0: 2,
};

/** Most dimensions a ggml tensor has (`GGML_MAX_DIMS`). */
export const GGML_MAX_DIMS = 4;
