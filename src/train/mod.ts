/**
 * Public API of src/train (re-exported by the top-level mod.ts).
 *
 * @module
 */
export {};
