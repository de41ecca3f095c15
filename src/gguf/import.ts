/**
 * A GGUF file as a Bentevi checkpoint: the architecture's family by `general.architecture`,
 * its configuration from the hyper-parameter keys, the canonical weights (each tensor mapped
 * back from llama.cpp's layout and converted to float32 when read — lazily, from the mapping —
 * or kept as quantized blocks for quantized inference), and the embedded tokenizer as
 * `tokenizer.json` / `tokenizer_config.json` objects. An unknown architecture, tensor type,
 * missing key or tensor, or a tensor Bentevi would not compute with is a one-line error naming
 * it.
 *
 * @module
 */
import { BenteviError } from "../errors.ts";
import type { NamedTensor } from "../io/safetensors.ts";
import { validateConfig } from "../model/config.ts";
import type { BaseConfig, GgufArchitecture, GgufMetadataReader } from "../model/family.ts";
import { MODEL_FAMILIES, type ModelConfig } from "../model/registry.ts";
import type { QuantType } from "../quant/mod.ts";
import {
  type GgufFile,
  type GgufTensorInfo,
  ggufValue,
  oneLineText,
  openGguf,
  readGgufTensor,
  tensorBytes,
} from "./reader.ts";
import { type GgufTokenizerFiles, tokenizerFromGguf } from "./tokenizer.ts";

/** A GGUF file opened as a checkpoint. */
export interface GgufCheckpoint {
  /** The file. */
  path: string;
  /** The model configuration. */
  config: ModelConfig;
  /** Canonical weights; each `data` read converts the tensor from the file (float32). */
  weights: Map<string, NamedTensor>;
  /**
   * The block type the file stores its matrices in (Q4_0 when any tensor is, else Q8_0 when
   * any is), which inference uses by default: re-quantizing a dequantized block gives the
   * file's bytes back, so the model computes with the file's own blocks.
   */
  quantization?: QuantType;
  /** The embedded tokenizer. */
  tokenizer: GgufTokenizerFiles;
  /** The end-of-text id (`tokenizer.ggml.eos_token_id`), when the file names one. */
  eosTokenId?: number;
  /** Tensor types in the file, counted (`{ Q8_0: 24, F32: 50 }`). */
  types: Record<string, number>;
  /** The open file (its mapping backs the tensors). */
  file: GgufFile;
}

/** Whether `path` names a GGUF file: a `.gguf` name, or a regular file starting with `GGUF`. */
export async function isGgufPath(path: string): Promise<boolean> {
  if (path.toLowerCase().endsWith(".gguf")) return true;
  try {
    const f = await Deno.open(path);
    try {
      const head = new Uint8Array(4);
      const n = await f.read(head);
      return n === 4 && new TextDecoder().decode(head) === "GGUF";
    } finally {
      f.close();
    }
  } catch {
    return false;
  }
}

/** Keys whose presence means a variant Bentevi does not compute. */
const REFUSED_KEYS: [RegExp, string][] = [
  [/\.rope\.scaling\.type$/, "RoPE scaling"],
  [/\.expert_count$/, "mixture of experts"],
  [/\.attention\.sliding_window$/, "sliding-window attention"],
  [/\.logit_softcapping$/, "logit soft-capping"],
];

/**
 * Opens a GGUF file as a checkpoint (see the module's description).
 *
 * @example
 * ```ts
 * import { openGgufCheckpoint } from "./import.ts";
 * try {
 *   openGgufCheckpoint("/no/such/model.gguf");
 * } catch (e) {
 *   console.log((e as Error).message);
 * }
 * ```
 */
export function openGgufCheckpoint(path: string): GgufCheckpoint {
  const file = openGguf(path);
  try {
    return checkpointOf(file);
  } catch (e) {
    file.close();
    throw e;
  }
}

function checkpointOf(file: GgufFile): GgufCheckpoint {
  const path = file.path;
  const fail = (why: string): never => {
    throw new BenteviError(`${path}: ${oneLineText(why)}`); // keys and names come from the file
  };
  const archName = ggufValue(file, "general.architecture");
  if (archName === undefined) fail("missing key general.architecture");
  const family = MODEL_FAMILIES.find((f) => typeof f.gguf === "object" && f.gguf.name === archName);
  if (!family) {
    const known = MODEL_FAMILIES.flatMap((f) => typeof f.gguf === "object" ? [f.gguf.name] : []);
    fail(
      `architecture ${JSON.stringify(archName)} is not supported (Bentevi reads ${
        known.join(", ")
      })`,
    );
  }
  const arch = family!.gguf as GgufArchitecture<BaseConfig>;
  for (const key of file.metadata.keys()) {
    for (const [re, what] of REFUSED_KEYS) {
      const v = ggufValue(file, key);
      if (re.test(key) && v !== "none" && v !== 0) fail(`${key}: ${what} is not supported`);
    }
  }
  const tokenizer = tokenizerFromGguf((k) => ggufValue(file, k), path);
  const embd = file.tensors.get("token_embd.weight") ?? fail("missing tensor token_embd.weight");
  const vocabSize = embd.shape[0];
  const nTokens = (ggufValue(file, "tokenizer.ggml.tokens") as unknown[]).length;
  if (nTokens !== vocabSize) {
    fail(
      `tokenizer.ggml.tokens has ${nTokens} tokens but token_embd.weight has ${vocabSize} rows`,
    );
  }
  const read: GgufMetadataReader = {
    num(key, fallback) {
      const v = ggufValue(file, key);
      if (v === undefined) {
        if (fallback !== undefined) return fallback;
        return fail(`missing key ${key}`);
      }
      if (typeof v !== "number") return fail(`key ${key} is not a number`);
      return v;
    },
    has: (key) => file.metadata.has(key) || file.tensors.has(key),
  };
  let config: ModelConfig;
  try {
    config = arch.configFromMetadata(read, vocabSize, path) as ModelConfig;
    validateConfig(config, path);
  } catch (e) {
    if (e instanceof BenteviError) throw e;
    throw new BenteviError((e as Error).message);
  }
  // Every layer has several tensors: a block count past the tensor count is a lie (and would
  // list millions of names).
  if (config.nLayer > file.tensors.size) {
    fail(`${archName}.block_count ${config.nLayer} is more than the ${file.tensors.size} tensors`);
  }
  const weights = new Map<string, NamedTensor>();
  const types: Record<string, number> = {};
  const used = new Set<string>();
  const specShapes = new Map(family!.weightSpecs(config as never).map((w) => [w.name, w.shape]));
  for (const m of arch.tensors(config)) {
    const info = file.tensors.get(m.gguf);
    if (!info) {
      if (m.duplicate) continue;
      return fail(`missing tensor ${m.gguf}`);
    }
    used.add(m.gguf);
    const sameShape = info.shape.length === m.shape.length &&
      info.shape.every((d, i) => d === m.shape[i]);
    const vectorLike = m.shape.length === 1 && info.count === m.shape[0];
    if (!sameShape && !vectorLike) {
      fail(`tensor ${m.gguf} has shape [${info.shape}], the configuration needs [${m.shape}]`);
    }
    if (!["F32", "F16", "BF16", "Q8_0", "Q4_0"].includes(info.type)) {
      fail(
        `tensor ${m.gguf} has type ${info.type}, which Bentevi does not read (F32, F16, BF16, Q8_0, Q4_0)`,
      );
    }
    types[info.type] = (types[info.type] ?? 0) + 1;
    if (m.duplicate) {
      const orig = [...file.tensors.values()].find((t) =>
        arch.tensors(config).some((o) =>
          !o.duplicate && o.canonical === m.canonical && o.gguf === t.name
        )
      )!;
      if (!sameBytes(file, orig, info)) {
        fail(`tensor ${m.gguf} differs from ${orig.name}; Bentevi's ${config.arch} ties them`);
      }
      continue;
    }
    const shape = [...(specShapes.get(m.canonical) ?? fail(`no weight ${m.canonical}`))];
    weights.set(m.canonical, {
      shape,
      get data() {
        const x = readGgufTensor(file, info);
        return m.fromGguf ? m.fromGguf(x) : x;
      },
    });
  }
  const extra = [...file.tensors.keys()].filter((n) => !used.has(n));
  if (extra.length) {
    fail(
      `unexpected tensor(s) ${extra.slice(0, 3).join(", ")}${
        extra.length > 3 ? ` and ${extra.length - 3} more` : ""
      } — a variant of ${archName} Bentevi does not compute`,
    );
  }
  const eos = ggufValue(file, "tokenizer.ggml.eos_token_id");
  return {
    path,
    config,
    weights,
    quantization: types.Q4_0 ? "q4_0" : types.Q8_0 ? "q8_0" : undefined,
    tokenizer,
    eosTokenId: typeof eos === "number" ? eos : undefined,
    types,
    file,
  };
}

function sameBytes(file: GgufFile, a: GgufTensorInfo, b: GgufTensorInfo): boolean {
  if (a.type !== b.type) {
    const x = readGgufTensor(file, a), y = readGgufTensor(file, b);
    // Stored differently (llama.cpp keeps the output head at higher precision): equal within
    // the coarser type's rounding is the same weight.
    let scale = 0, diff = 0;
    for (let i = 0; i < x.length; i++) {
      scale = Math.max(scale, Math.abs(x[i]));
      diff = Math.max(diff, Math.abs(x[i] - y[i]));
    }
    return diff <= scale * 0.15;
  }
  const p = tensorBytes(file, a), q = tensorBytes(file, b);
  if (p.length !== q.length) return false;
  for (let i = 0; i < p.length; i++) if (p[i] !== q[i]) return false;
  return true;
}
