/**
 * Backend selection: `--device auto|webgpu|cpu`. `auto` picks WebGPU when `navigator.gpu`
 * gives an adapter and falls back to the CPU backend otherwise, saying so in one line.
 *
 * @module
 */
import { BenteviError } from "../errors.ts";
import type { Backend } from "./backend.ts";
import { CpuBackend } from "./cpu/mod.ts";
import { requestGpuAdapter } from "./gpu_adapter.ts";

/** Which compute device to use. */
export type DeviceChoice = "auto" | "webgpu" | "cpu";

/** Options of {@link createBackend}. */
export interface CreateBackendOptions {
  /** Receives one-line notices (e.g. the CPU fallback); defaults to `console.error`. */
  log?: (line: string) => void;
  /**
   * Use this adapter instead of asking `navigator.gpu`; `null` behaves as a machine without
   * one (tests of the fallback use it).
   */
  adapter?: GPUAdapter | null;
  /**
   * What the backend will run. `"decode"` (token-by-token generation) makes `auto` choose the
   * CPU backend when the only adapter is a software one (such as lavapipe's llvmpipe): each
   * generated token waits for a read-back, which costs a software adapter about as much as the
   * whole step costs the CPU backend (measured: gpt-micro decodes ~20× faster on the CPU
   * backend than on llvmpipe). Default `"compute"`.
   */
  workload?: "compute" | "decode";
}

/** What the WebGPU backend module exports (src/backend/webgpu/mod.ts). */
interface WebGpuModule {
  createWebGpuBackend(adapter?: GPUAdapter): Promise<Backend>;
}

const HOW_TO_GET_WEBGPU = Deno.build.os === "linux"
  ? "install a Vulkan driver, e.g. `apt-get install -y mesa-vulkan-drivers` (WebGPU on the CPU via lavapipe); on Linux only Vulkan is tried unless DENO_WEBGPU_BACKEND is set (e.g. vulkan,gl)"
  : "update the graphics driver so that Deno's navigator.gpu finds an adapter";

/**
 * Creates the backend for a `--device` choice.
 *
 * - `"cpu"`: the TypeScript {@link CpuBackend}.
 * - `"webgpu"`: the WebGPU backend; a {@link BenteviError} when no adapter exists.
 * - `"auto"`: WebGPU when an adapter exists, else the CPU backend with a one-line notice
 *   (through `options.log`) saying so and how to get WebGPU. For `workload: "decode"`, a
 *   software (fallback) adapter also gives the CPU backend, with a notice.
 *
 * @example
 * ```ts
 * import { createBackend } from "./select.ts";
 * const backend = await createBackend("auto", { log: (line) => console.error(line) });
 * console.log(backend.kind, backend.description);
 * backend.destroy();
 * ```
 */
export async function createBackend(
  device: DeviceChoice,
  options: CreateBackendOptions = {},
): Promise<Backend> {
  const log = options.log ?? ((line: string) => console.error(line));
  if (device === "cpu") return new CpuBackend();
  if (device !== "webgpu" && device !== "auto") {
    throw new BenteviError(`--device: unknown device "${device}" (use auto, webgpu or cpu)`);
  }
  const adapter = options.adapter !== undefined ? options.adapter : await requestGpuAdapter();
  if (!adapter) {
    if (device === "webgpu") {
      throw new BenteviError(`--device webgpu: no WebGPU adapter found; ${HOW_TO_GET_WEBGPU}`);
    }
    log(`bentevi: no WebGPU adapter found, using the CPU backend (slow); ${HOW_TO_GET_WEBGPU}`);
    return new CpuBackend();
  }
  if (device === "auto" && options.workload === "decode" && adapter.info?.isFallbackAdapter) {
    log(
      `bentevi: the WebGPU adapter (${
        adapter.info.description || adapter.info.device ||
        "software"
      }) runs on the CPU; generating on the CPU backend, which is faster for ` +
        `token-by-token decoding (--device webgpu to use the adapter)`,
    );
    return new CpuBackend();
  }
  let webgpu: WebGpuModule;
  try {
    // A literal specifier, so `deno compile` bundles the module.
    webgpu = await import("./webgpu/mod.ts");
  } catch (e) {
    if (device === "webgpu") {
      throw new BenteviError(
        `--device webgpu: the WebGPU backend could not be loaded (${(e as Error).message})`,
      );
    }
    log(`bentevi: the WebGPU backend could not be loaded, using the CPU backend (slow)`);
    return new CpuBackend();
  }
  try {
    return await webgpu.createWebGpuBackend(adapter);
  } catch (e) {
    if (device === "webgpu") throw e;
    log(
      `bentevi: the WebGPU backend failed to start (${(e as Error).message}), ` +
        `using the CPU backend (slow)`,
    );
    return new CpuBackend();
  }
}

/**
 * The kind of backend `createBackend("auto", { workload })` would give on this machine, without
 * opening a device: `"webgpu"` when an adapter exists (for `"decode"`, one that is not a
 * software adapter), else `"cpu"`.
 *
 * @example
 * ```ts
 * import { autoDeviceKind } from "./select.ts";
 * console.log(await autoDeviceKind("decode")); // "cpu" on a machine with only lavapipe
 * ```
 */
export async function autoDeviceKind(
  workload: "compute" | "decode" = "compute",
): Promise<"webgpu" | "cpu"> {
  const adapter = await requestGpuAdapter();
  if (!adapter) return "cpu";
  return workload === "decode" && adapter.info?.isFallbackAdapter ? "cpu" : "webgpu";
}
