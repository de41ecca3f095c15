/**
 * Reading rwkv.cpp's own `ggmf` model files and turning them into Bentevi checkpoints with
 * BlinkDL's canonical names: RWKV-4 here, RWKV-7 through `src/model/rwkv7/cpp.ts`; the
 * version is told by the tensors the file has ({@link rwkvCppVersion}).
 *
 * The format: six little-endian int32 (magic `0x67676d66` "ggmf", version, n_vocab, n_embed,
 * n_layer, data type), then per tensor three int32 (number of dims, key length, data type),
 * the dims innermost first, the key bytes (UTF-8) and the data in PyTorch's row-major order.
 * Data types read here: 0 = FP32, 1 = FP16. rwkv.cpp stores `att.time_decay` already as
 * `−exp(w)` and squeezes the `time_*` vectors; Bentevi keeps the raw `w`, so the converter
 * takes `w = ln(−stored)`.
 *
 * @module
 */
import { BenteviError, fsError } from "../../errors.ts";
import { refuseInputsInside } from "../../io/fs.ts";
import type { NamedTensor } from "../../io/safetensors.ts";
import { validateConfig } from "../config.ts";
import type { ModelConfig } from "../config.ts";
import { rwkv7CppToWeights } from "../rwkv7/cpp.ts";
import { rwkv5CppToWeights } from "../rwkv5/cpp.ts";
import { saveCheckpoint } from "../checkpoint.ts";
import { Tokenizer } from "../../tokenizer/mod.ts";
import { halfToFloat } from "../../io/float16.ts";

/** `"ggmf"` read as a little-endian int32. */
export const GGMF_MAGIC = 0x67676d66;

/** rwkv.cpp file format versions: 100 (`RWKV_FILE_VERSION_0`) and 101 (`RWKV_FILE_VERSION_1`). */
export const KNOWN_VERSIONS: readonly number[] = [100, 101];

/** rwkv.cpp's data type codes 2–9: the quantized formats (Q4_0 … Q8_0). */
const QUANTIZED_TYPES = new Set([2, 3, 4, 5, 6, 7, 8, 9]);

/** Bytes per value of a data type (0 = FP32, 1 = FP16); others are refused by name. */
function checkDataType(type: number, field: string, bad: (why: string) => Error): 2 | 4 {
  if (type === 0) return 4;
  if (type === 1) return 2;
  throw bad(
    QUANTIZED_TYPES.has(type)
      ? `${field} is ${type}, a quantized format; only FP32 (0) and FP16 (1) are supported`
      : `${field} is ${type}, not a known data type (FP32 = 0, FP16 = 1)`,
  );
}

/** The contents of an rwkv.cpp file, tensors under rwkv.cpp's names and PyTorch shapes. */
export interface RwkvCppFile {
  /** Format version from the header (100 and 101 are known). */
  version: number;
  /** Vocabulary size. */
  nVocab: number;
  /** Model width. */
  nEmbed: number;
  /** Number of blocks. */
  nLayer: number;
  /** Tensors, outermost dimension first, converted to f32. */
  tensors: Map<string, NamedTensor>;
}

/**
 * Parses the bytes of an rwkv.cpp `ggmf` file. `name` is used in error messages.
 *
 * @example
 * ```ts
 * import { decodeRwkvCpp } from "./cpp.ts";
 * // A header claiming 3 blocks of width 2 over a 4-word vocabulary, and no tensors at all:
 * const header = new Int32Array([0x67676d66, 100, 4, 2, 3, 0]);
 * try {
 *   decodeRwkvCpp(new Uint8Array(header.buffer), "lying.bin");
 * } catch (e) {
 *   console.log((e as Error).message); // lying.bin: … needs at least 176 bytes, the file has 24)
 * }
 * ```
 */
export function decodeRwkvCpp(bytes: Uint8Array, name = "rwkv.cpp file"): RwkvCppFile {
  const bad = (why: string) =>
    new BenteviError(`${name}: not a valid rwkv.cpp (ggmf) model (${why})`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 24) throw bad("shorter than its 24-byte header");
  const i32 = (o: number) => dv.getInt32(o, true);
  if (i32(0) !== GGMF_MAGIC) {
    throw bad(`magic is 0x${(i32(0) >>> 0).toString(16)}, expected 0x67676d66 "ggmf"`);
  }
  const version = i32(4), nVocab = i32(8), nEmbed = i32(12), nLayer = i32(16), dataType = i32(20);
  if (!KNOWN_VERSIONS.includes(version)) {
    throw bad(
      `header field version is ${version}; known versions are ${KNOWN_VERSIONS.join(", ")}`,
    );
  }
  if (nVocab <= 0 || nEmbed <= 0 || nLayer < 1) {
    throw bad(`header has n_vocab ${nVocab}, n_embed ${nEmbed}, n_layer ${nLayer}`);
  }
  checkDataType(dataType, "header field data_type", bad);
  // The smallest file the header allows: emb and head [V, C] and per block four [C, C]
  // matrices and two [≥C, C] ones, at 2 bytes (FP16) each. Checked before anything is read.
  const minBytes = 2 * (2 * nVocab * nEmbed + nLayer * 6 * nEmbed * nEmbed);
  if (minBytes > bytes.length) {
    throw bad(
      `header says n_vocab ${nVocab}, n_embed ${nEmbed}, n_layer ${nLayer}: that needs at least ` +
        `${minBytes} bytes, the file has ${bytes.length}`,
    );
  }
  const tensors = new Map<string, NamedTensor>();
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let o = 24;
  while (o < bytes.length) {
    if (o + 12 > bytes.length) throw bad(`truncated tensor header at byte ${o}`);
    const nDims = i32(o), keyLen = i32(o + 4), type = i32(o + 8);
    o += 12;
    if (nDims < 1 || nDims > 4 || keyLen <= 0 || keyLen > 1024) {
      throw bad(`tensor header at byte ${o - 12} has ${nDims} dims and a ${keyLen}-byte key`);
    }
    if (o + 4 * nDims + keyLen > bytes.length) throw bad(`truncated tensor header at byte ${o}`);
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) dims.push(i32(o + 4 * d));
    o += 4 * nDims;
    let key: string;
    try {
      key = decoder.decode(bytes.subarray(o, o + keyLen));
    } catch {
      throw bad(`tensor key at byte ${o} is not UTF-8`);
    }
    o += keyLen;
    if (dims.some((d) => !(d > 0))) throw bad(`tensor ${key} has dims ${dims.join("×")}`);
    const size = dims.reduce((a, b) => a * b, 1);
    const elemBytes = checkDataType(type, `tensor ${key} data type`, bad);
    if (o + size * elemBytes > bytes.length) throw bad(`tensor ${key} runs past the end`);
    if (tensors.has(key)) throw bad(`tensor ${key} appears twice`);
    const block = /^blocks\.(\d+)\./.exec(key);
    if (block && Number(block[1]) >= nLayer) {
      throw bad(
        `header field n_layer is ${nLayer}, but the file has tensor ${key} (block ${block[1]})`,
      );
    }
    const data = new Float32Array(size);
    // `check` stays 0 unless a value is NaN or ±∞ (∞·0 and NaN·0 are NaN): one pass.
    let check = 0;
    if (type === 0) {
      for (let i = 0; i < size; i++) check += (data[i] = dv.getFloat32(o + 4 * i, true)) * 0;
    } else {
      for (let i = 0; i < size; i++) {
        const x = data[i] = halfToFloat(dv.getUint16(o + 2 * i, true));
        check += x * 0;
      }
    }
    if (check !== 0) {
      const at = data.findIndex((x) => !Number.isFinite(x));
      throw bad(`tensor ${key} holds a non-finite value (${data[at]} at index ${at})`);
    }
    o += size * elemBytes;
    tensors.set(key, { shape: dims.slice().reverse(), data });
  }
  return { version, nVocab, nEmbed, nLayer, tensors };
}

/** Reads and parses an rwkv.cpp file; missing files and bad contents become a {@link BenteviError}. */
export async function readRwkvCpp(path: string): Promise<RwkvCppFile> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw fsError(e, path);
  }
  return decodeRwkvCpp(bytes, path);
}

/** The RWKV versions rwkv.cpp files come in. */
export type RwkvCppVersion = "4" | "5.1" | "5.2" | "6" | "7";

/**
 * The RWKV version of an rwkv.cpp file, told by its tensors as rwkv.cpp's converter does:
 * `att.k_k`/`att.x_rwkvag` (7), `att.time_maa_x` (6), `att.ln_x` with `att.gate` (5.2) or
 * without (5.1), otherwise 4.
 *
 * @example
 * ```ts
 * import { rwkvCppVersion } from "./cpp.ts";
 * const tensors = new Map([["blocks.0.att.k_k", { shape: [1, 1, 4], data: new Float32Array(4) }]]);
 * console.log(rwkvCppVersion({ version: 101, nVocab: 1, nEmbed: 4, nLayer: 1, tensors })); // 7
 * ```
 */
export function rwkvCppVersion(file: RwkvCppFile): RwkvCppVersion {
  const has = (n: string) => file.tensors.has(`blocks.0.att.${n}`);
  if (has("k_k") || has("x_rwkvag")) return "7";
  if (has("time_maa_x")) return "6";
  if (has("ln_x.weight")) return has("gate.weight") ? "5.2" : "5.1";
  return "4";
}

/** RWKV-4 weights with canonical names, and the sizes a config needs. */
export interface RwkvCppWeights {
  /** Vocabulary size. */
  vocabSize: number;
  /** Model width. */
  dModel: number;
  /** Number of blocks. */
  nLayer: number;
  /** Channel-mix hidden width (rows of `ffn.key.weight`). */
  ffnDim: number;
  /** Canonical (BlinkDL) names; `att.time_decay` holds the raw `w` (decay `−exp(w)`). */
  weights: Map<string, NamedTensor>;
}

/**
 * Checks that an rwkv.cpp file is a complete RWKV-4 model and converts its tensors to the
 * canonical names and conventions (`time_decay` back to the raw `w`, `time_*` as `[C]`).
 *
 * @example
 * ```ts
 * import { readRwkvCpp, rwkvCppToWeights } from "./cpp.ts";
 * const path = "../shared/data/models/rwkv-cpp-tiny/tiny-rwkv-4v0-660K-FP32.bin";
 * try {
 *   const model = rwkvCppToWeights(await readRwkvCpp(path), path);
 *   console.log(model.dModel, model.nLayer); // 128 4
 * } catch (e) {
 *   console.log("shared data absent:", (e as Error).message);
 * }
 * ```
 */
export function rwkvCppToWeights(file: RwkvCppFile, name = "rwkv.cpp file"): RwkvCppWeights {
  const C = file.nEmbed, V = file.nVocab;
  const t = file.tensors;
  const version = rwkvCppVersion(file);
  if (version !== "4") {
    throw new BenteviError(`${name}: this is an RWKV-${version} model, not RWKV-4`);
  }
  const get = (key: string, shape: number[]): NamedTensor => {
    const x = t.get(key);
    if (!x) throw new BenteviError(`${name}: tensor ${key} is missing (not an RWKV-4 model?)`);
    const size = shape.reduce((a, b) => a * b, 1);
    if (x.data.length !== size) {
      throw new BenteviError(
        `${name}: tensor ${key} has shape [${x.shape}], the header (n_vocab ${V}, n_embed ${C}) ` +
          `needs [${shape}]`,
      );
    }
    return { shape, data: x.data };
  };
  const ffnKey = t.get("blocks.0.ffn.key.weight");
  const ffnDim = ffnKey && ffnKey.shape.length === 2 ? ffnKey.shape[0] : 4 * C;
  const w = new Map<string, NamedTensor>();
  w.set("emb.weight", get("emb.weight", [V, C]));
  w.set("blocks.0.ln0.weight", get("blocks.0.ln0.weight", [C]));
  w.set("blocks.0.ln0.bias", get("blocks.0.ln0.bias", [C]));
  for (let l = 0; l < file.nLayer; l++) {
    const p = `blocks.${l}.`;
    for (const n of ["ln1.weight", "ln1.bias", "ln2.weight", "ln2.bias"]) {
      w.set(p + n, get(p + n, [C]));
    }
    const decay = get(p + "att.time_decay", [C]);
    const raw = new Float32Array(C);
    for (let c = 0; c < C; c++) {
      const d = decay.data[c];
      if (!(d < 0)) {
        throw new BenteviError(
          `${name}: ${p}att.time_decay[${c}] is ${d}; rwkv.cpp stores −exp(w), which is negative`,
        );
      }
      raw[c] = Math.log(-d);
    }
    w.set(p + "att.time_decay", { shape: [C], data: raw });
    for (const n of ["att.time_first", "att.time_mix_k", "att.time_mix_v", "att.time_mix_r"]) {
      w.set(p + n, get(p + n, [C]));
    }
    for (const n of ["key", "value", "receptance", "output"]) {
      w.set(`${p}att.${n}.weight`, get(`${p}att.${n}.weight`, [C, C]));
    }
    w.set(p + "ffn.time_mix_k", get(p + "ffn.time_mix_k", [C]));
    w.set(p + "ffn.time_mix_r", get(p + "ffn.time_mix_r", [C]));
    w.set(p + "ffn.key.weight", get(p + "ffn.key.weight", [ffnDim, C]));
    w.set(p + "ffn.receptance.weight", get(p + "ffn.receptance.weight", [C, C]));
    w.set(p + "ffn.value.weight", get(p + "ffn.value.weight", [C, ffnDim]));
  }
  w.set("ln_out.weight", get("ln_out.weight", [C]));
  w.set("ln_out.bias", get("ln_out.bias", [C]));
  w.set("head.weight", get("head.weight", [V, C]));
  return { vocabSize: V, dModel: C, nLayer: file.nLayer, ffnDim, weights: w };
}

/** What {@link convertRwkvCpp} wrote. */
export interface RwkvCppConversion {
  /** The configuration of the converted model. */
  config: ModelConfig;
  /** The RWKV version of the file. */
  version: RwkvCppVersion;
  /** Whether a byte-level `tokenizer.json` was written (vocabulary of 256). */
  byteTokenizer: boolean;
}

/**
 * Converts an rwkv.cpp RWKV-4, 5.1, 5.2, 6 or 7 file into a Bentevi checkpoint directory (written
 * atomically), with a byte-level `tokenizer.json` when the vocabulary is 256 bytes.
 *
 * @example
 * ```ts
 * import { convertRwkvCpp } from "./cpp.ts";
 * const src = "../shared/data/models/rwkv-cpp-tiny/tiny-rwkv-4v0-660K-FP32.bin";
 * try {
 *   const out = await convertRwkvCpp(src, await Deno.makeTempDir() + "/tiny");
 *   console.log(out.config.dModel); // 128
 * } catch (e) {
 *   console.log("shared data absent:", (e as Error).message);
 * }
 * ```
 */
export async function convertRwkvCpp(path: string, outDir: string): Promise<RwkvCppConversion> {
  await refuseInputsInside(outDir, [path], "--output is replaced by the checkpoint");
  const file = await readRwkvCpp(path);
  const version = rwkvCppVersion(file);
  let config: ModelConfig, weights: Map<string, NamedTensor>;
  if (version === "4") {
    const converted = rwkvCppToWeights(file, path);
    weights = converted.weights;
    config = {
      arch: "rwkv",
      vocabSize: converted.vocabSize,
      contextLength: 1024,
      dModel: converted.dModel,
      nLayer: converted.nLayer,
      ffnDim: converted.ffnDim,
      layerNormEps: 1e-5,
    };
  } else if (version === "7") {
    ({ config, weights } = rwkv7CppToWeights(file, path));
  } else {
    ({ config, weights } = rwkv5CppToWeights(file, version, path));
  }
  config = validateConfig(config, path);
  const byteTokenizer = config.vocabSize === 256;
  await saveCheckpoint(outDir, {
    config,
    weights,
    tokenizer: byteTokenizer ? Tokenizer.byteLevel() : undefined,
    metadata: { converted_from: `rwkv.cpp ggmf: ${path.split("/").pop()}` },
  });
  return { config, version, byteTokenizer };
}
