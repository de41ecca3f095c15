/**
 * Backend selection: `--device auto|webgpu|native|cpu`. `auto` picks WebGPU on a hardware
 * adapter, else the native CPU backend (C kernels + OpenBLAS) when it loads, else WebGPU on a
 * software adapter (lavapipe), else the TypeScript CPU backend — saying which in one line.
 *
 * @module
 */
import { BenteviError } from "../errors.ts";
import type { Backend } from "./backend.ts";
import { CpuBackend } from "./cpu/mod.ts";
import { requestGpuAdapter } from "./gpu_adapter.ts";
import { createNativeBackend, loadNativeCompute } from "./native/mod.ts";

/** Which compute device to use. */
export type DeviceChoice = "auto" | "webgpu" | "native" | "cpu";

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
  /**
   * Threads of the native backend (default: `--threads`, `BENTEVI_THREADS`, the machine's
   * cores).
   */
  threads?: number;
  /** `false`: `auto` never picks the native backend (tests of the other fallbacks). */
  native?: boolean;
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
 * - `"native"`: the native CPU backend (C kernels and OpenBLAS through `Deno.dlopen`); a
 *   {@link BenteviError} saying why (and how to fix it) when it cannot be loaded.
 * - `"webgpu"`: the WebGPU backend; a {@link BenteviError} when no adapter exists.
 * - `"auto"`: WebGPU on a hardware adapter; otherwise the native backend when it loads;
 *   otherwise WebGPU on a software adapter (for `workload: "decode"`, the TypeScript backend
 *   instead); otherwise the TypeScript backend. Every choice but a hardware adapter prints
 *   one line (through `options.log`) saying what was chosen and why.
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
  if (device === "native") return createNativeBackend({ threads: options.threads });
  if (device !== "webgpu" && device !== "auto") {
    throw new BenteviError(
      `--device: unknown device "${device}" (use auto, webgpu, native or cpu)`,
    );
  }
  const adapter = options.adapter !== undefined ? options.adapter : await requestGpuAdapter();
  if (device === "auto" && !(adapter && !adapter.info?.isFallbackAdapter)) {
    // No hardware adapter: the native backend when it loads.
    const native = options.native === false ? "disabled" : loadNativeCompute();
    if (typeof native !== "string") {
      const backend = createNativeBackend({ threads: options.threads });
      const why = adapter
        ? `the WebGPU adapter (${adapterName(adapter)}) runs on the CPU`
        : "no WebGPU adapter found";
      log(
        `bentevi: ${why}; using the native CPU backend (${
          backend.description.replace(/^native CPU \(/, "").replace(/\)$/, "")
        })`,
      );
      return backend;
    }
    if (native !== "disabled" && !adapter) {
      log(
        `bentevi: no WebGPU adapter found and ${native}; using the TypeScript CPU backend (slow)`,
      );
      return new CpuBackend();
    }
  }
  if (!adapter) {
    if (device === "webgpu") {
      throw new BenteviError(`--device webgpu: no WebGPU adapter found; ${HOW_TO_GET_WEBGPU}`);
    }
    log(`bentevi: no WebGPU adapter found, using the CPU backend (slow); ${HOW_TO_GET_WEBGPU}`);
    return new CpuBackend();
  }
  if (device === "auto" && options.workload === "decode" && adapter.info?.isFallbackAdapter) {
    log(
      `bentevi: the WebGPU adapter (${adapterName(adapter)}) runs on the CPU; generating on ` +
        `the CPU backend, which is faster for token-by-token decoding (--device webgpu to use ` +
        `the adapter)`,
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

function adapterName(adapter: GPUAdapter): string {
  return adapter.info?.description || adapter.info?.device || "software";
}

/**
 * The kind of backend `createBackend("auto", { workload })` would give on this machine, without
 * opening a device: `"webgpu"` on a hardware adapter, else `"native"` when the native backend
 * loads, else `"webgpu"` on a software adapter (not for `"decode"`), else `"cpu"`.
 *
 * @example
 * ```ts
 * import { autoDeviceKind } from "./select.ts";
 * console.log(await autoDeviceKind("decode")); // "cpu" on a machine with only lavapipe
 * ```
 */
export async function autoDeviceKind(
  workload: "compute" | "decode" = "compute",
): Promise<"webgpu" | "native" | "cpu"> {
  const adapter = await requestGpuAdapter();
  if (adapter && !adapter.info?.isFallbackAdapter) return "webgpu";
  if (typeof loadNativeCompute() !== "string") return "native";
  if (!adapter) return "cpu";
  return workload === "decode" && adapter.info?.isFallbackAdapter ? "cpu" : "webgpu";
}
