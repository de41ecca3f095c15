/**
 * GGUF files (llama.cpp's format): reading (v2/v3, mapped, checked against the file's size),
 * writing (v3, atomic), and Bentevi checkpoints to and from them.
 *
 * @example
 * ```ts
 * import { gguf, openGguf, writeGguf } from "./mod.ts";
 * const path = await Deno.makeTempFile({ suffix: ".gguf" });
 * await writeGguf(path, new Map([["general.name", gguf.string("teste")]]), []);
 * const file = openGguf(path);
 * console.log(file.version, file.metadata.get("general.name")?.value); // 3 teste
 * file.close();
 * ```
 *
 * @module
 */
export * from "./format.ts";
export * from "./reader.ts";
export * from "./writer.ts";
export * from "./tokenizer.ts";
export * from "./export.ts";
export * from "./import.ts";
