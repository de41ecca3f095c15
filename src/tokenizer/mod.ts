/**
 * Public API of src/tokenizer (re-exported by the top-level mod.ts).
 *
 * @module
 */
export {};
