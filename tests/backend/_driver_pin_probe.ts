// Child process of webgpu_exit.test.ts: a Worker asks for an adapter (Bentevi's way, or with
// --raw straight from navigator.gpu), makes and destroys a device, and ends; then prints one JSON
// line: the Vulkan driver libraries mapped while the Worker ran, and those still mapped once it
// has ended (the Vulkan loader unloads its drivers when the Worker's instance is destroyed,
// unless they were pinned).
const raw = Deno.args.includes("--raw");
const adapterUrl = new URL("../../src/backend/gpu_adapter.ts", import.meta.url).href;
const worker = `
import { prepareWebGpuEnv, requestGpuAdapter } from ${JSON.stringify(adapterUrl)};
prepareWebGpuEnv();
const adapter = ${raw ? "await navigator.gpu.requestAdapter()" : "await requestGpuAdapter()"};
if (adapter) (await adapter.requestDevice()).destroy();
self.postMessage(adapter !== null);
self.close();
`;
const drivers = () => [
  ...new Set(Deno.readTextFileSync(`/proc/${Deno.pid}/maps`).match(/\S*libvulkan_\S*\.so/g) ?? []),
];
const w = new Worker(`data:application/typescript;base64,${btoa(worker)}`, { type: "module" });
const adapter = await new Promise<boolean>((resolve) => (w.onmessage = (e) => resolve(e.data)));
const during = drivers();
// The Worker's runtime ends after its answer; give its teardown up to 2 s.
let after = drivers();
for (let i = 0; i < 20 && after.length === during.length; i++) {
  await new Promise((r) => setTimeout(r, 100));
  after = drivers();
}
console.log(JSON.stringify({ adapter, during, after }));
