/**
 * Public API of src/chunking (re-exported by the top-level mod.ts).
 *
 * @module
 */
export {};
