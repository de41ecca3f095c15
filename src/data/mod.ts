/**
 * Public API of src/data (re-exported by the top-level mod.ts).
 *
 * @module
 */
export {};
