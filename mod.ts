/**
 * Bentevi: a Deno toolkit that takes a Brazilian Portuguese corpus (up to a full Wikipedia
 * dump) to a small language model you can chat with — tokenizer, data pipeline, chunking,
 * GPT and RWKV models trained on WebGPU (or the CPU), and generation.
 *
 * @example
 * ```ts
 * import { BenteviError } from "./mod.ts";
 * console.log(new BenteviError("x").exitCode); // 1
 * ```
 *
 * @module
 */
export * from "./src/errors.ts";
export * from "./src/progress.ts";
export * from "./src/io/atomic.ts";
export * from "./src/io/lock.ts";
export { refuseInputsInside, refuseOutputOverInputs } from "./src/io/fs.ts";
export * from "./src/io/safetensors.ts";
export * from "./src/quant/mod.ts";
export * from "./src/gguf/mod.ts";
export * from "./src/tokenizer/mod.ts";
export * from "./src/text/mod.ts";
export * from "./src/chunking/mod.ts";
export * from "./src/data/mod.ts";
export * from "./src/native/mod.ts";
export * from "./src/backend/mod.ts";
export * from "./src/model/mod.ts";
export * from "./src/train/mod.ts";
export * from "./src/generate/mod.ts";
export * from "./src/finetune/mod.ts";
export * from "./src/explain/mod.ts";
export * from "./src/retrieval/mod.ts";
export * from "./src/serve/mod.ts";
