/**
 * The WebGPU backend: WGSL kernels (`wgsl/`) on Deno's built-in `navigator.gpu`.
 *
 * @module
 */
import { BenteviError } from "../../errors.ts";
import type { Backend } from "../backend.ts";
import { CheckedBackend } from "../checked.ts";
import { type WebGpuBackendOptions, WebGpuKernels } from "./backend.ts";
import { GpuContext } from "./context.ts";
import { requestGpuAdapter } from "../gpu_adapter.ts";
import type { MatmulKernels } from "./matmul.ts";

export { type WebGpuBackendOptions, WebGpuKernels } from "./backend.ts";
export { prepareWebGpuEnv, requestGpuAdapter } from "../gpu_adapter.ts";
export { type GpuBuf, GpuContext, GpuTensor } from "./context.ts";
export {
  type BindingType,
  type Kernel,
  kernel,
  type KernelDecl,
  type TextureBinding,
  type UniformType,
} from "./kernel.ts";
export { type MatmulDims, MatmulKernels, type MatmulVariant, type TextureTile } from "./matmul.ts";
export type {
  AdamWParams,
  AttentionDims,
  Backend,
  DType,
  MatmulOptions,
  Tensor,
} from "../backend.ts";

/**
 * The WebGPU backend: the raw WebGPU ops ({@link WebGpuKernels}) behind the shared argument
 * checks. Create it with {@link createWebGpuBackend} (or {@link createWebGpuBackendClass} for
 * this type, with its `ctx` and `mm`).
 *
 * @example
 * ```ts
 * import { createWebGpuBackend } from "./mod.ts";
 * const gpu = await createWebGpuBackend();
 * const a = gpu.fromArray([2, 2], new Float32Array([1, 2, 3, 4]));
 * const out = gpu.zeros([2, 2]);
 * gpu.matmul(out, a, a);
 * console.log(await gpu.read(out)); // [7, 10, 15, 22]
 * gpu.destroy();
 * ```
 */
export class WebGpuBackend extends CheckedBackend<WebGpuKernels> {
  /** Wraps an opened device; prefer `createWebGpuBackend()`, which opens it with the right limits. */
  constructor(ctx: GpuContext, options: WebGpuBackendOptions = {}) {
    super(new WebGpuKernels(ctx, options));
  }

  /** The plumbing (device, pools, caches). */
  get ctx(): GpuContext {
    return this.raw.ctx;
  }

  /** The matmul kernels and their per-adapter variant. */
  get mm(): MatmulKernels {
    return this.raw.mm;
  }
}

/**
 * Opens a device on `adapter` (or on the default adapter) with the adapter's own buffer
 * limits, and returns the WebGPU backend on it.
 *
 * @example
 * ```ts
 * import { createWebGpuBackend } from "./mod.ts";
 * const gpu = await createWebGpuBackend();
 * console.log(gpu.description);
 * gpu.destroy();
 * ```
 */
export async function createWebGpuBackend(
  adapter?: GPUAdapter,
  options: WebGpuBackendOptions = {},
): Promise<Backend> {
  return await createWebGpuBackendClass(adapter, options);
}

/**
 * Like {@link createWebGpuBackend}, typed as the concrete {@link WebGpuBackend} (for its
 * `ctx` and `mm` internals: profiling, kernel variants).
 *
 * @example
 * ```ts
 * import { createWebGpuBackendClass } from "./mod.ts";
 * const gpu = await createWebGpuBackendClass(undefined, { matmul: "tiled" });
 * console.log(gpu.mm.variant); // "tiled"
 * gpu.destroy();
 * ```
 */
export async function createWebGpuBackendClass(
  adapter?: GPUAdapter,
  options: WebGpuBackendOptions = {},
): Promise<WebGpuBackend> {
  const a = adapter ?? await requestGpuAdapter();
  if (!a) {
    throw new BenteviError(
      "no WebGPU adapter found; install a Vulkan driver (e.g. `apt-get install -y mesa-vulkan-drivers`) or use --device cpu",
    );
  }
  const lim = a.limits;
  const requiredLimits: Record<string, number> = {
    maxStorageBufferBindingSize: lim.maxStorageBufferBindingSize,
    maxBufferSize: lim.maxBufferSize,
    maxComputeWorkgroupStorageSize: lim.maxComputeWorkgroupStorageSize,
    maxStorageBuffersPerShaderStage: Math.min(lim.maxStorageBuffersPerShaderStage, 10),
  };
  if (lim.maxStorageBuffersPerShaderStage < 8) {
    throw new BenteviError(
      `WebGPU adapter offers ${lim.maxStorageBuffersPerShaderStage} storage buffers per shader stage; Bentevi needs 8`,
    );
  }
  // Timestamps for `bentevi gpu --profile`-style kernel timing, when the adapter has them.
  const requiredFeatures: GPUFeatureName[] = a.features.has("timestamp-query")
    ? ["timestamp-query"]
    : [];
  let device: GPUDevice;
  try {
    device = await a.requestDevice({ requiredLimits, requiredFeatures });
  } catch (e) {
    throw new BenteviError(`WebGPU: could not open a device (${(e as Error).message})`);
  }
  return new WebGpuBackend(new GpuContext(a, device), options);
}
