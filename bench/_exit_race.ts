/**
 * The smallest program known to hit the abort at process exit (issue 13, item 12): `K` Workers
 * each ask for a WebGPU adapter the way Bentevi does (`requestGpuAdapter`), make a device and a
 * buffer, say so and end; the main thread calls `Deno.exit(0)` as soon as the last one has
 * answered, so the Workers' threads end while the main thread runs the exit-time destructors.
 * With EGL loaded (`DENO_WEBGPU_BACKEND=vulkan,gl`, i.e. without Bentevi's Vulkan-only
 * workaround) libglvnd's thread-state destructor and its library destructor can free the same
 * block: glibc aborts (exit 134) or the process crashes (139). Run by `bench/abort_check.ts`.
 *
 * ```sh
 * DENO_WEBGPU_BACKEND=vulkan,gl deno run -A bench/_exit_race.ts 4   # control: aborts now and then
 * deno run -A bench/_exit_race.ts 4                                 # with the workaround
 * ```
 *
 * `--no-gpu`: the same Workers without WebGPU (a baseline: what Deno itself does at such an exit).
 *
 * Prints one JSON line: `{"adapter":true,"egl":false,"workers":4}` (whether EGL got loaded).
 *
 * @module
 */
const noGpu = Deno.args.includes("--no-gpu");
const WORKER = `
import { requestGpuAdapter } from ${
  JSON.stringify(new URL("../src/backend/gpu_adapter.ts", import.meta.url).href)
};
const adapter = ${noGpu ? "null" : "await requestGpuAdapter()"};
if (adapter) {
  const device = await adapter.requestDevice();
  device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE });
}
self.postMessage(adapter !== null || ${noGpu});
self.close();
`;

if (import.meta.main) {
  const k = Number(Deno.args.find((a) => !a.startsWith("--")) ?? 4);
  if (!Number.isInteger(k) || k < 1) {
    console.error("usage: _exit_race.ts [WORKERS] [--no-gpu]");
    Deno.exit(2);
  }
  const url = `data:application/typescript;base64,${btoa(WORKER)}`;
  let answered = 0;
  let adapters = true;
  for (let i = 0; i < k; i++) {
    const w = new Worker(url, { type: "module" });
    w.onmessage = (e: MessageEvent<boolean>) => {
      adapters &&= e.data;
      if (++answered < k) return;
      const maps = Deno.readTextFileSync(`/proc/${Deno.pid}/maps`);
      console.log(JSON.stringify({ adapter: adapters, egl: /libEGL/.test(maps), workers: k }));
      Deno.exit(0); // while the Workers' threads end
    };
  }
}
