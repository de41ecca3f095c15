// Loads the peer libraries used as references (npm `tiktoken` WASM, npm `tokenizers` native).
// Each returns undefined, with a message, when the package or its binding cannot load, so the
// tests that use them skip cleanly.

// deno-lint-ignore no-explicit-any
type Any = any;

/** npm `tiktoken` (Rust compiled to WASM), or undefined. */
export async function loadTiktoken(): Promise<Any | undefined> {
  try {
    const mod = await import("tiktoken/lite");
    return mod.Tiktoken;
  } catch (e) {
    console.log(`skipping: npm:tiktoken could not load (${(e as Error).message.split("\n")[0]})`);
    return undefined;
  }
}

/** npm `tokenizers` (Hugging Face, native binding), or undefined. */
export async function loadHfTokenizers(): Promise<Any | undefined> {
  try {
    const mod: Any = await import("tokenizers");
    const Tokenizer = mod.Tokenizer ?? mod.default?.Tokenizer;
    if (!Tokenizer) throw new Error("no Tokenizer export");
    return Tokenizer;
  } catch (e) {
    console.log(
      `skipping: npm:tokenizers could not load (${(e as Error).message.split("\n")[0]})`,
    );
    return undefined;
  }
}

let tiktoken: Promise<Any | undefined> | undefined;
let hf: Promise<Any | undefined> | undefined;
/** Cached {@link loadTiktoken}. */
export const tiktokenOnce = () => (tiktoken ??= loadTiktoken());
/** Cached {@link loadHfTokenizers}. */
export const hfOnce = () => (hf ??= loadHfTokenizers());
