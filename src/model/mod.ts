/**
 * Public API of src/model (re-exported by the top-level mod.ts).
 *
 * @module
 */
export {};
