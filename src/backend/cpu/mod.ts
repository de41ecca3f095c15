/**
 * The CPU backend (TypeScript reference implementation of every `Backend` op).
 *
 * @module
 */
export { CpuBackend, type CpuBackendOptions } from "./cpu_backend.ts";
