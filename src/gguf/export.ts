/**
 * `bentevi export gguf`: a checkpoint (GPT-2 or Llama) → one GGUF file llama.cpp runs —
 * `general.*`, the architecture's hyper-parameters, the tokenizer (exactly, or refused) and
 * chat template, and the tensors under llama.cpp's names and layouts, as F32, F16, Q8_0 or
 * Q4_0. Quantized exports store the matrices in blocks (1-D tensors — norms, biases — stay
 * F32, as llama.cpp's converter keeps them); F16 stores the matrices as float16.
 *
 * @module
 */
import { basename, dirname, join } from "node:path";
import { BenteviError } from "../errors.ts";
import { floatToBfloat16, floatToHalf } from "../io/float16.ts";
import { loadCheckpoint } from "../model/checkpoint.ts";
import type { GgufArchitecture } from "../model/family.ts";
import { familyOf } from "../model/registry.ts";
import { type Progress, silentProgress } from "../progress.ts";
import { quantize } from "../quant/mod.ts";
import type { GgmlReadableType } from "./format.ts";
import { ggufTokenizerMetadata } from "./tokenizer.ts";
import { type GgufWriteTensor, type GgufWriteValue, writeGguf } from "./writer.ts";
import { exists, readJsonFile } from "../io/fs.ts";
import type { BaseConfig } from "../model/family.ts";

/** The storage types `export gguf --type` offers. */
export const GGUF_EXPORT_TYPES = ["f32", "f16", "q8_0", "q4_0"] as const;

/** A storage type of {@link exportGguf}. */
export type GgufExportType = typeof GGUF_EXPORT_TYPES[number];

/** llama.cpp's `general.file_type` (`llama_ftype`) of each export type. */
const FILE_TYPE: Record<GgufExportType, number> = { f32: 0, f16: 1, q4_0: 2, q8_0: 7 };

/** Options of {@link exportGguf}. */
export interface ExportGgufOptions {
  /** The GGUF file to write. */
  out: string;
  /** How matrices are stored (default `f32`). */
  type?: GgufExportType;
  /** Progress over the tensors. */
  progress?: Progress;
}

/** What {@link exportGguf} wrote. */
export interface ExportGgufResult {
  /** The file. */
  out: string;
  /** `general.architecture`. */
  architecture: string;
  /** Tensors written. */
  tensors: number;
  /** Bytes of the file. */
  bytes: number;
  /** Tensors stored by type (`{ Q8_0: 24, F32: 50 }`). */
  types: Record<string, number>;
}

/** float32 values → little-endian bytes of `type`. */
export function encodeTensor(type: GgmlReadableType, x: Float32Array): Uint8Array {
  switch (type) {
    case "F32":
      return new Uint8Array(x.buffer.slice(x.byteOffset, x.byteOffset + x.byteLength));
    case "F16":
    case "BF16": {
      const out = new Uint16Array(x.length);
      const encode = type === "F16" ? floatToHalf : floatToBfloat16;
      for (let i = 0; i < x.length; i++) out[i] = encode(x[i]);
      return new Uint8Array(out.buffer);
    }
    case "Q8_0":
      return quantize("q8_0", x);
    case "Q4_0":
      return quantize("q4_0", x);
  }
}

/** The storage type of one tensor of shape `shape` in an export of type `type`. */
export function tensorType(type: GgufExportType, shape: number[]): GgmlReadableType {
  if (shape.length < 2 || type === "f32") return "F32";
  if (type === "f16") return "F16";
  // ggml quantizes along rows: a row length that is not whole blocks stays float16.
  if (shape[shape.length - 1] % 32 !== 0) return "F16";
  return type === "q8_0" ? "Q8_0" : "Q4_0";
}

async function readJson(path: string): Promise<Record<string, unknown>> {
  return await readJsonFile(path) as Record<string, unknown>;
}

/**
 * Writes a checkpoint (directory or training run) as a GGUF file for llama.cpp.
 *
 * @example
 * ```ts
 * import { exportGguf } from "./export.ts";
 * try {
 *   await exportGguf("/no/such/run", { out: "/tmp/x.gguf" });
 * } catch (e) {
 *   console.log((e as Error).message);
 * }
 * ```
 */
export async function exportGguf(
  checkpoint: string,
  options: ExportGgufOptions,
): Promise<ExportGgufResult> {
  const type = options.type ?? "f32";
  if (!GGUF_EXPORT_TYPES.includes(type)) {
    throw new BenteviError(`--type ${type}: must be one of ${GGUF_EXPORT_TYPES.join(", ")}`);
  }
  const progress = options.progress ?? silentProgress;
  const ckpt = await loadCheckpoint(checkpoint, { lazy: true });
  const family = familyOf(ckpt.config);
  const arch = family.gguf;
  if (arch === undefined || typeof arch === "string") {
    throw new BenteviError(
      `${ckpt.dir}: a ${ckpt.config.arch} model cannot be exported to GGUF${
        arch ? `: ${arch}` : ""
      }`,
    );
  }
  if (!ckpt.tokenizerPath) {
    throw new BenteviError(`${ckpt.dir}: no tokenizer.json — a GGUF file carries its tokenizer`);
  }
  const tokJson = await readJson(ckpt.tokenizerPath);
  const configPath = join(dirname(ckpt.tokenizerPath), "tokenizer_config.json");
  const tokConfig = (await exists(configPath)) ? await readJson(configPath) : undefined;
  const g = arch as GgufArchitecture<BaseConfig>;
  const metadata = new Map<string, GgufWriteValue>([
    ["general.architecture", { type: "string", value: g.name }],
    ["general.name", { type: "string", value: basename(ckpt.dir) }],
    ["general.file_type", { type: "u32", value: FILE_TYPE[type] }],
  ]);
  if (type === "q8_0" || type === "q4_0") {
    metadata.set("general.quantization_version", { type: "u32", value: 2 });
  }
  for (const [k, v] of g.metadata(ckpt.config)) metadata.set(k, v);
  for (
    const [k, v] of ggufTokenizerMetadata({
      json: tokJson,
      config: tokConfig,
      vocabSize: ckpt.config.vocabSize,
      source: ckpt.tokenizerPath,
    })
  ) metadata.set(k, v);
  const mappings = g.tensors(ckpt.config);
  const types: Record<string, number> = {};
  let done = 0;
  progress.start("export gguf", mappings.length, "tensors");
  const tensors: GgufWriteTensor[] = mappings.map((m) => {
    const t = tensorType(type, m.shape);
    types[t] = (types[t] ?? 0) + 1;
    return {
      name: m.gguf,
      shape: m.shape,
      type: t,
      data: () => {
        const w = ckpt.weights.get(m.canonical);
        if (!w) throw new Error(`exportGguf: no weight ${m.canonical}`);
        const x = m.toGguf ? m.toGguf(w.data) : w.data;
        progress.update(++done);
        return encodeTensor(t, x);
      },
    };
  });
  await writeGguf(options.out, metadata, tensors);
  progress.end();
  const bytes = (await Deno.stat(options.out)).size;
  return { out: options.out, architecture: g.name, tensors: tensors.length, bytes, types };
}
