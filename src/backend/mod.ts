/**
 * Public API of src/backend (re-exported by the top-level mod.ts): the {@link Backend}
 * interface the models are written against (with the named-argument types of its ops), the
 * checked wrapper every backend is, the CPU backend, the native backend (C kernels and
 * OpenBLAS), and {@link createBackend}, which picks one for `--device auto|webgpu|native|cpu`.
 *
 * @example
 * ```ts
 * import { createBackend, readF32, tensorFromArray } from "./mod.ts";
 * const backend = await createBackend("cpu");
 * const x = tensorFromArray(backend, [2, 2], [1, 2, 3, 4]);
 * const y = backend.zeros([2, 2]);
 * backend.gelu(y, x);
 * console.log(await readF32(backend, y));
 * ```
 *
 * @module
 */
// Every type of the Backend interface: the tensor, the options and the ops' …Args objects.
export type * from "./backend.ts";
export { VIEW_ALIGN } from "./backend.ts";
export { CheckedBackend } from "./checked.ts";
export { CpuBackend, type CpuBackendOptions } from "./cpu/mod.ts";
export {
  createNativeBackend,
  NativeBackend,
  type NativeBackendOptions,
  setDefaultThreads,
} from "./native/mod.ts";
export { prepareWebGpuEnv, requestGpuAdapter } from "./gpu_adapter.ts";
export {
  autoDeviceKind,
  createBackend,
  type CreateBackendOptions,
  type DeviceChoice,
} from "./select.ts";
export { readF32, readI32, readScalar, tensorFromArray } from "./helpers.ts";
