/**
 * The WebGPU backend: WGSL kernels (`wgsl/`) on Deno's built-in `navigator.gpu`.
 *
 * @module
 */
import { BenteviError } from "../../errors.ts";
import type { Backend } from "../backend.ts";
import { WebGpuBackend, type WebGpuBackendOptions } from "./backend.ts";
import { GpuContext } from "./context.ts";

export { WebGpuBackend, type WebGpuBackendOptions } from "./backend.ts";
export {
  type Binding,
  type GpuBuf,
  GpuContext,
  GpuTensor,
  type KernelSpec,
  type Scalars,
} from "./context.ts";
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

/**
 * The default adapter (high performance first), or null when there is none.
 *
 * @example
 * ```ts
 * import { requestGpuAdapter } from "./mod.ts";
 * const adapter = await requestGpuAdapter();
 * console.log(adapter ? adapter.info.description : "no WebGPU adapter");
 * ```
 */
export async function requestGpuAdapter(): Promise<GPUAdapter | null> {
  if (typeof navigator === "undefined" || !("gpu" in navigator) || !navigator.gpu) return null;
  try {
    return await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  } catch {
    return null;
  }
}
