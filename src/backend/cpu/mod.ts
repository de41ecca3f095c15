/**
 * The CPU backend (TypeScript reference implementation of every `Backend` op): the raw ops
 * ({@link CpuKernels}) and the checked backend over them ({@link CpuBackend}).
 *
 * @module
 */
export { CpuBackend } from "./cpu_backend.ts";
export { type CpuBackendOptions, CpuKernels } from "./kernels.ts";
