/**
 * The one way Bentevi asks Deno for a WebGPU adapter: it prepares the environment that Deno's
 * wgpu instance reads when it is created (on the first `navigator.gpu.requestAdapter()` of a
 * runtime), then asks for a high-performance adapter.
 *
 * Why Vulkan only on Linux: with no `DENO_WEBGPU_BACKEND`, Deno creates its wgpu instance with
 * every backend, so on Linux wgpu also probes OpenGL through EGL (libglvnd's `libEGL.so.1`
 * and Mesa's `libEGL_mesa`) even though the adapter it then picks is a Vulkan one. The probe
 * leaves a per-thread EGL state behind, and libglvnd frees every thread's state in its library
 * destructor at process exit while the thread's own key destructor frees it again when that
 * thread ends. In `deno test` (and in Workers) the JS thread ends while the main thread is
 * already running the exit destructors, so now and then the same block is freed twice:
 * `corrupted size vs. prev_size in fastbins`, `double free or corruption` or `free(): invalid
 * pointer`, exit 134, after the test summary. Never probing OpenGL removes the cause; an
 * explicit `DENO_WEBGPU_BACKEND` (e.g. `vulkan,gl` on a machine with OpenGL only) is respected.
 * See "Known issue" in the README.
 *
 * Why the drivers are pinned: a Worker that used WebGPU and ends while the process exits
 * destroys its wgpu instance, and the Vulkan loader then unloads the driver (`dlclose`),
 * unmapping it and the libraries only it needed, while the exiting main thread may still call
 * into them: a crash at exit (SIGSEGV), rare, seen with `bench/_exit_race.ts`. Once an adapter is
 * found, every library then loaded is marked never-unload through the native shim
 * (`bn_pin_loaded`, `RTLD_NODELETE`) — when the `ffi` permission is granted and the shim loads;
 * otherwise nothing is done.
 *
 * @module
 */
import { loadNative } from "../native/loader.ts";

/**
 * The default adapter (high performance first), or null when there is none (or no
 * `navigator.gpu`). Before the first request of this runtime, on Linux, it sets
 * `DENO_WEBGPU_BACKEND=vulkan` unless that variable is already set (and when the `env`
 * permission for it is granted), and points an unset `XDG_RUNTIME_DIR` at a temporary folder
 * (Mesa complains otherwise). Never prompts.
 *
 * @example
 * ```ts
 * import { requestGpuAdapter } from "./gpu_adapter.ts";
 * const adapter = await requestGpuAdapter();
 * console.log(adapter ? adapter.info.description : "no WebGPU adapter");
 * ```
 */
export async function requestGpuAdapter(): Promise<GPUAdapter | null> {
  prepareWebGpuEnv();
  if (typeof navigator === "undefined" || !("gpu" in navigator) || !navigator.gpu) return null;
  let adapter: GPUAdapter | null;
  try {
    adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  } catch {
    return null;
  }
  if (adapter) pinLoadedLibraries();
  return adapter;
}

let pinned = false;

/**
 * Marks every library loaded in the process (the Vulkan loader and drivers among them) as
 * never unloaded (see the module's note). Best effort, once per runtime: without the `ffi`
 * permission or the native shim it does nothing. Returns how many libraries were pinned now.
 *
 * @example
 * ```ts
 * import { pinLoadedLibraries } from "./gpu_adapter.ts";
 * console.log(pinLoadedLibraries() >= 0); // true
 * ```
 */
export function pinLoadedLibraries(): number {
  if (pinned) return 0;
  try {
    if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return 0;
    const lib = loadNative({ quiet: true });
    if (!lib) return 0;
    pinned = true;
    return lib.symbols.bn_pin_loaded(new TextEncoder().encode("/\0"));
  } catch {
    return 0; // best effort
  }
}

/**
 * Sets, where allowed and not already set, the variables Deno's WebGPU reads when its instance
 * is created: `DENO_WEBGPU_BACKEND=vulkan` and `XDG_RUNTIME_DIR` on Linux. Call it before the
 * first `navigator.gpu.requestAdapter()` of the runtime; later calls change nothing that
 * matters (the instance keeps its backends). Best effort: without the `env` permission it does
 * nothing.
 *
 * @example
 * ```ts
 * import { prepareWebGpuEnv } from "./gpu_adapter.ts";
 * prepareWebGpuEnv();
 * const adapter = await navigator.gpu.requestAdapter();
 * ```
 */
export function prepareWebGpuEnv(): void {
  if (Deno.build.os === "windows") return;
  ensureXdgRuntimeDir();
  if (Deno.build.os !== "linux") return;
  try {
    const env = Deno.permissions.querySync({ name: "env", variable: "DENO_WEBGPU_BACKEND" });
    if (env.state !== "granted" || Deno.env.get("DENO_WEBGPU_BACKEND") !== undefined) return;
    Deno.env.set("DENO_WEBGPU_BACKEND", "vulkan");
  } catch {
    // Best effort only (no env permission): the default backends still work.
  }
}

/**
 * Mesa prints "XDG_RUNTIME_DIR is invalid or not set" when it is unset; point it at a fresh
 * temporary folder when the environment and temp folder may be touched (never prompts). The
 * folder is removed when the program ends (its `unload`: a normal end or `Deno.exit`), so runs
 * do not pile folders up in /tmp; made by a Worker, it is left for the process (another runtime
 * may still be using it).
 */
function ensureXdgRuntimeDir(): void {
  try {
    const env = Deno.permissions.querySync({ name: "env", variable: "XDG_RUNTIME_DIR" });
    if (env.state !== "granted" || Deno.env.get("XDG_RUNTIME_DIR")) return;
    const write = Deno.permissions.querySync({ name: "write" });
    if (write.state !== "granted") return;
    const dir = Deno.makeTempDirSync({ prefix: "bentevi-xdg-" });
    Deno.env.set("XDG_RUNTIME_DIR", dir);
    if (!("WorkerGlobalScope" in globalThis)) {
      globalThis.addEventListener("unload", () => {
        try {
          Deno.removeSync(dir, { recursive: true });
        } catch {
          // already gone, or not ours to remove any more
        }
      });
    }
  } catch {
    // Best effort only: the notice from Mesa is harmless.
  }
}
