/**
 * The native CPU backend: the CPU backend's tensors and ops with the hot ops in C (`ffi/`)
 * and matrix products in OpenBLAS, through `Deno.dlopen` (needs `--allow-ffi`).
 *
 * @module
 */
export { createNativeBackend, NativeBackend, type NativeBackendOptions } from "./native_backend.ts";
export {
  NativeKernels,
  QUANT_KERNEL_PATHS,
  type QuantKernelPath,
  quantKernelPath,
} from "./kernels.ts";
export {
  loadNativeCompute,
  machineCores,
  type NativeCompute,
  parseThreads,
  resolveThreads,
  setDefaultThreads,
} from "./load.ts";
