/**
 * Public API of src/backend (re-exported by the top-level mod.ts).
 *
 * @module
 */
export {};
