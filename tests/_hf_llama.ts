// Test helper: small random Hugging Face Llama checkpoint directories (config.json as
// `LlamaForCausalLM` writes it, model.safetensors or shards + model.safetensors.index.json,
// tensors in F32, F16 or BF16), written with an encoder of its own — independent of
// src/io/safetensors.ts — so the reader is tested against another writer. The values returned
// are those the files hold (rounded to the dtype), for the float64 reference.
import { join } from "node:path";

/** The shape of a random Llama, in Hugging Face's `config.json` terms. */
export interface HfLlamaShape {
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  /** Written only when given (else hidden / heads). */
  head_dim?: number;
  max_position_embeddings: number;
  rms_norm_eps: number;
  rope_theta: number;
  tie_word_embeddings: boolean;
  bos_token_id?: number;
  eos_token_id?: number | number[];
}

/** The tensors of a random Llama (HF names, HF `[out, in]` shapes) in float64. */
export type RefWeights = Map<string, { shape: number[]; data: Float64Array }>;

/** A stored element type. */
export type StoredDType = "F32" | "F16" | "BF16";

/** A tiny default shape: GQA (4 query heads, 2 KV heads), untied. */
export function tinyLlamaShape(over: Partial<HfLlamaShape> = {}): HfLlamaShape {
  return {
    vocab_size: 300,
    hidden_size: 32,
    intermediate_size: 48,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    max_position_embeddings: 64,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    tie_word_embeddings: false,
    bos_token_id: 1,
    eos_token_id: 2,
    ...over,
  };
}

/** mulberry32: a small seeded generator, independent of src/random.ts. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Rounds to float32, then to the stored dtype (round to nearest even). */
export function roundTo(x: number, dtype: StoredDType): number {
  const f = Math.fround(x);
  if (dtype === "F32") return f;
  if (dtype === "BF16") return bf16ToNumber(numberToBf16(f));
  return f16ToNumber(numberToF16(f));
}

function numberToBf16(f: number): number {
  const u = new Uint32Array(new Float32Array([f]).buffer)[0];
  if ((u & 0x7fffffff) > 0x7f800000) return 0x7fc0; // NaN
  const rounded = u + 0x7fff + ((u >>> 16) & 1);
  return (rounded >>> 16) & 0xffff;
}

function bf16ToNumber(h: number): number {
  return new Float32Array(new Uint32Array([h << 16]).buffer)[0];
}

function roundHalfEven(x: number): number {
  const fl = Math.floor(x), d = x - fl;
  return d > 0.5 ? fl + 1 : d < 0.5 ? fl : fl % 2 === 0 ? fl : fl + 1;
}

/** log2 of a positive number's binade, exactly. */
function binade(a: number): number {
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  return e;
}

function numberToF16(f: number): number {
  const sign = f < 0 || Object.is(f, -0) ? 0x8000 : 0;
  const a = Math.abs(f);
  if (a === 0) return sign;
  const e = Math.max(binade(a), -14);
  const quantum = 2 ** (e - 10);
  const v = roundHalfEven(a / quantum) * quantum;
  if (v >= 65520) return sign | 0x7c00;
  if (v < 2 ** -14) return sign | (v / 2 ** -24);
  const ve = binade(v);
  return sign | ((ve + 15) << 10) | (v / 2 ** (ve - 10) - 1024);
}

function f16ToNumber(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** The bytes of one tensor in `dtype` (little-endian). */
function tensorBytes(data: Float64Array, dtype: StoredDType): Uint8Array {
  const width = dtype === "F32" ? 4 : 2;
  const out = new Uint8Array(data.length * width);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) {
    if (dtype === "F32") dv.setFloat32(i * 4, data[i], true);
    else if (dtype === "BF16") dv.setUint16(i * 2, numberToBf16(Math.fround(data[i])), true);
    else dv.setUint16(i * 2, numberToF16(Math.fround(data[i])), true);
  }
  return out;
}

/**
 * A safetensors file of `tensors` (in map order), each in `dtypeOf(name)`, as the Hugging Face
 * writer lays it out (header padded with spaces to a multiple of 8). `extra` entries are
 * copied into the header verbatim (for hostile files).
 */
export function encodeFile(
  tensors: RefWeights,
  dtypeOf: (name: string) => string,
  metadata: Record<string, string> = { format: "pt" },
): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    const dtype = dtypeOf(name);
    const bytes = dtype === "I8"
      ? new Uint8Array(t.data.length)
      : tensorBytes(t.data, dtype as StoredDType);
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    parts.push(bytes);
    offset += bytes.length;
  }
  let json = JSON.stringify(header);
  while ((8 + new TextEncoder().encode(json).length) % 8) json += " ";
  const hb = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + hb.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(hb.length), true);
  out.set(hb, 8);
  let pos = 8 + hb.length;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

/** Random Llama weights for `shape` (HF names and shapes), already rounded to `dtype`. */
export function randomLlamaWeights(
  s: HfLlamaShape,
  seed: number,
  dtype: StoredDType = "F32",
): RefWeights {
  const r = rng(seed);
  const hd = s.head_dim ?? s.hidden_size / s.num_attention_heads;
  const C = s.hidden_size;
  const w: RefWeights = new Map();
  const add = (name: string, shape: number[], std: number, mean = 0) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float64Array(n);
    for (let i = 0; i < n; i++) data[i] = roundTo(mean + std * (2 * r() - 1) * Math.sqrt(3), dtype);
    w.set(name, { shape, data });
  };
  add("model.embed_tokens.weight", [s.vocab_size, C], 1);
  const ws = 1 / Math.sqrt(C);
  for (let l = 0; l < s.num_hidden_layers; l++) {
    const p = `model.layers.${l}`;
    add(`${p}.input_layernorm.weight`, [C], 0.2, 1);
    add(`${p}.self_attn.q_proj.weight`, [s.num_attention_heads * hd, C], 2 * ws);
    add(`${p}.self_attn.k_proj.weight`, [s.num_key_value_heads * hd, C], 2 * ws);
    add(`${p}.self_attn.v_proj.weight`, [s.num_key_value_heads * hd, C], ws);
    add(`${p}.self_attn.o_proj.weight`, [C, s.num_attention_heads * hd], ws);
    add(`${p}.post_attention_layernorm.weight`, [C], 0.2, 1);
    add(`${p}.mlp.gate_proj.weight`, [s.intermediate_size, C], ws);
    add(`${p}.mlp.up_proj.weight`, [s.intermediate_size, C], ws);
    add(`${p}.mlp.down_proj.weight`, [C, s.intermediate_size], 1 / Math.sqrt(s.intermediate_size));
  }
  add("model.norm.weight", [C], 0.2, 1);
  if (!s.tie_word_embeddings) add("lm_head.weight", [s.vocab_size, C], ws);
  return w;
}

/** The `config.json` of `shape` as transformers writes a `LlamaConfig`. */
export function llamaConfigJson(s: HfLlamaShape, dtype: StoredDType): Record<string, unknown> {
  return {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    attention_bias: false,
    attention_dropout: 0.0,
    hidden_act: "silu",
    initializer_range: 0.02,
    mlp_bias: false,
    pretraining_tp: 1,
    rope_scaling: null,
    use_cache: true,
    torch_dtype: { F32: "float32", F16: "float16", BF16: "bfloat16" }[dtype],
    transformers_version: "4.46.0",
    ...s,
  };
}

/** Options of {@link writeHfLlama}. */
export interface WriteHfLlamaOptions {
  /** Stored dtype (default F32). */
  dtype?: StoredDType;
  /** Split into this many shards with an index (default 1: one model.safetensors). */
  shards?: number;
  /** Weight seed (default 1). */
  seed?: number;
  /** A tokenizer.json object to write beside. */
  tokenizer?: unknown;
  /** A generation_config.json object to write beside. */
  generationConfig?: Record<string, unknown>;
  /** Write lm_head.weight even when tied (as some exporters do). */
  tiedHeadInFile?: boolean;
}

/**
 * Writes a random HF Llama directory; returns the weights as stored (float64, HF names) and
 * the written shard names.
 */
export async function writeHfLlama(
  dir: string,
  shape: HfLlamaShape,
  o: WriteHfLlamaOptions = {},
): Promise<{ weights: RefWeights; files: string[] }> {
  const dtype = o.dtype ?? "F32";
  const weights = randomLlamaWeights(shape, o.seed ?? 1, dtype);
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(
    join(dir, "config.json"),
    JSON.stringify(llamaConfigJson(shape, dtype), null, 2),
  );
  const inFile: RefWeights = new Map(weights);
  if (o.tiedHeadInFile && shape.tie_word_embeddings) {
    inFile.set("lm_head.weight", weights.get("model.embed_tokens.weight")!);
  }
  const n = o.shards ?? 1;
  const files: string[] = [];
  if (n === 1) {
    await Deno.writeFile(join(dir, "model.safetensors"), encodeFile(inFile, () => dtype));
    files.push("model.safetensors");
  } else {
    const names = [...inFile.keys()];
    const per = Math.ceil(names.length / n);
    const pad = (k: number) => String(k).padStart(5, "0");
    const weightMap: Record<string, string> = {};
    let total = 0;
    for (let k = 0; k < n; k++) {
      const file = `model-${pad(k + 1)}-of-${pad(n)}.safetensors`;
      const part: RefWeights = new Map();
      for (const name of names.slice(k * per, (k + 1) * per)) {
        part.set(name, inFile.get(name)!);
        weightMap[name] = file;
        total += inFile.get(name)!.data.length * (dtype === "F32" ? 4 : 2);
      }
      await Deno.writeFile(join(dir, file), encodeFile(part, () => dtype));
      files.push(file);
    }
    await Deno.writeTextFile(
      join(dir, "model.safetensors.index.json"),
      JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2),
    );
  }
  if (o.tokenizer !== undefined) {
    await Deno.writeTextFile(join(dir, "tokenizer.json"), JSON.stringify(o.tokenizer));
  }
  if (o.generationConfig) {
    await Deno.writeTextFile(
      join(dir, "generation_config.json"),
      JSON.stringify(o.generationConfig, null, 2),
    );
  }
  return { weights, files };
}
