/**
 * Public API of src/native (re-exported by the top-level mod.ts).
 *
 * @module
 */
export {};
