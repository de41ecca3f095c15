// Child process of webgpu_exit.test.ts: asks for an adapter the way Bentevi does (or, with
// --raw, straight from navigator.gpu), then prints one JSON line: whether an adapter was found
// and which EGL / GL dispatch libraries got loaded into the process.
import { requestGpuAdapter } from "../../src/backend/gpu_adapter.ts";

const raw = Deno.args.includes("--raw");
const adapter = raw
  ? await navigator.gpu.requestAdapter({ powerPreference: "high-performance" })
  : await requestGpuAdapter();
const maps = Deno.readTextFileSync(`/proc/${Deno.pid}/maps`);
const egl = [...new Set(maps.match(/\S*lib(EGL|GLdispatch)\S*\.so\S*/g) ?? [])];
console.log(JSON.stringify({ adapter: adapter !== null, egl }));
