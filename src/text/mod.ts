/**
 * Public API of src/text (re-exported by the top-level mod.ts).
 *
 * @module
 */
export {};
