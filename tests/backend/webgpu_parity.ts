/**
 * Shared setup of the WebGPU parity tests: one adapter and device per test file, the CPU
 * backend as the reference, and `parity()` which runs one op on both backends from the same
 * inputs and compares every tensor the op writes. Where the native backend loads, `parity()`
 * runs the op on it too and holds it to the same tolerance: every op check written for the
 * WebGPU kernels checks the native ones as well.
 *
 * Without an adapter the tests are ignored with a message — unless `BENTEVI_REQUIRE_WEBGPU=1`
 * (CI), where a test fails saying the adapter is missing.
 *
 * @module
 */
import type { Backend, Tensor } from "../../src/backend/backend.ts";
import { CpuBackend } from "../../src/backend/cpu/mod.ts";
import { createNativeBackend, loadNativeCompute } from "../../src/backend/native/mod.ts";
import {
  createWebGpuBackendClass,
  requestGpuAdapter,
  type WebGpuBackend,
  type WebGpuBackendOptions,
} from "../../src/backend/webgpu/mod.ts";
import { assertClose, type Tolerance } from "./_helpers.ts";

if (!Deno.env.get("XDG_RUNTIME_DIR")) {
  try {
    const xdg = Deno.makeTempDirSync({ prefix: "bentevi-xdg-" });
    Deno.env.set("XDG_RUNTIME_DIR", xdg);
    // Leave no folder behind: removed, and the variable unset again, when the module unloads.
    globalThis.addEventListener("unload", () => {
      if (Deno.env.get("XDG_RUNTIME_DIR") === xdg) Deno.env.delete("XDG_RUNTIME_DIR");
      try {
        Deno.removeSync(xdg, { recursive: true });
      } catch { /* already gone */ }
    });
  } catch { /* only silences a Mesa warning */ }
}

const adapter = await requestGpuAdapter();
const required = Deno.env.get("BENTEVI_REQUIRE_WEBGPU") === "1";

/** True when the WebGPU tests cannot run here (and are not required to). */
export const ignoreWebGpu = !adapter && !required;

if (!adapter) {
  if (required) {
    Deno.test("webgpu: an adapter is required (BENTEVI_REQUIRE_WEBGPU=1)", () => {
      throw new Error(
        "no WebGPU adapter found but BENTEVI_REQUIRE_WEBGPU=1; install mesa-vulkan-drivers",
      );
    });
  } else {
    console.log(
      "webgpu tests ignored: no WebGPU adapter (install mesa-vulkan-drivers for lavapipe; " +
        "BENTEVI_REQUIRE_WEBGPU=1 makes this a failure)",
    );
  }
}

/** The native backend the parity checks also run on (null where it does not load). */
export const nativeForParity = typeof loadNativeCompute() === "string"
  ? null
  : createNativeBackend();

const backends = new Map<string, Promise<WebGpuBackend>>();

/** The file's shared WebGPU backend (one device per option set). */
export function gpuBackend(options: WebGpuBackendOptions = {}): Promise<WebGpuBackend> {
  const key = JSON.stringify(options);
  let b = backends.get(key);
  if (!b) {
    b = createWebGpuBackendClass(adapter!, options);
    backends.set(key, b);
  }
  return b;
}

/** Test options shared by every WebGPU test (device resources live across tests). */
export const gpuTest = { ignore: ignoreWebGpu, sanitizeResources: false, sanitizeOps: false };

/** An input: shape and data (Int32Array for i32 tensors). */
export type Input = [shape: number[], data: Float32Array | Int32Array];

/** Tensors by name on one backend. */
export type Tensors = Record<string, Tensor>;

/**
 * Creates `inputs` on both the CPU backend and `gpu`, runs `op` on each, then compares the
 * named `outputs` (all inputs that the op writes) within `tol` — and on the native backend
 * within `nativeTol` when given (an op whose C kernel computes differently on purpose, e.g.
 * matmulQuant with llama.cpp's rounded inputs), else `tol`.
 */
export async function parity(
  what: string,
  gpu: Backend,
  inputs: Record<string, Input | null>,
  outputs: string[],
  op: (be: Backend, t: Tensors) => void,
  tol: Tolerance | Record<string, Tolerance>,
  nativeTol?: Tolerance,
): Promise<void> {
  const cpu = new CpuBackend();
  const make = (be: Backend): Tensors => {
    const t: Tensors = {};
    for (const [name, spec] of Object.entries(inputs)) {
      if (spec) t[name] = be.fromArray(spec[0], spec[1]);
    }
    return t;
  };
  const tc = make(cpu), tg = make(gpu);
  op(cpu, tc);
  op(gpu, tg);
  const tn = nativeForParity && make(nativeForParity);
  if (tn) op(nativeForParity!, tn);
  for (const name of outputs) {
    const expected = await cpu.read(tc[name]);
    const actual = await gpu.read(tg[name]);
    const t = typeof tol === "object" && !("atol" in tol)
      ? (tol as Record<string, Tolerance>)[name] ?? 1e-5
      : tol as Tolerance;
    assertClose(actual, expected, t, `${what}: ${name}`);
    if (tn) {
      const nt = nativeTol ?? t;
      assertClose(await nativeForParity!.read(tn[name]), expected, nt, `native ${what}: ${name}`);
    }
  }
  for (const t of Object.values(tg)) gpu.free(t);
  const err = (gpu as WebGpuBackend).ctx?.lastError;
  if (err) throw new Error(`${what}: WebGPU error: ${err}`);
}
