/**
 * Public API of src/generate (re-exported by the top-level mod.ts).
 *
 * @module
 */
export {};
