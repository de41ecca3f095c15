// The abort at process exit (issue 13, item 12): with every wgpu backend enabled, Deno probes
// OpenGL through libglvnd's libEGL on Linux, whose exit-time destructor and per-thread key
// destructor can free the same thread state twice when a JS thread (deno test, a Worker) ends
// during process exit. Bentevi asks for Vulkan only on Linux (src/backend/gpu_adapter.ts), so
// EGL must never be loaded. Runs in child processes: the test process's own libraries depend on
// which tests ran before.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const PROBE = fileURLToPath(new URL("./_egl_probe.ts", import.meta.url));
const require = Deno.env.get("BENTEVI_REQUIRE_WEBGPU") === "1";

async function probe(backendVar: string | undefined): Promise<{ adapter: boolean; egl: string[] }> {
  const env = Deno.env.toObject();
  delete env.DENO_WEBGPU_BACKEND;
  if (backendVar !== undefined) env.DENO_WEBGPU_BACKEND = backendVar;
  const out = await new Deno.Command(Deno.execPath(), {
    // -A: reading /proc/PID/maps needs every permission.
    args: ["run", "-A", PROBE],
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const stdout = new TextDecoder().decode(out.stdout);
  return JSON.parse(stdout.trim().split("\n").at(-1)!);
}

Deno.test({
  name: "WebGPU on Linux: Bentevi's adapter request never loads EGL (the exit-time double free)",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const ours = await probe(undefined);
    if (!ours.adapter) {
      assert.ok(!require, "BENTEVI_REQUIRE_WEBGPU=1 but no WebGPU adapter");
      return;
    }
    assert.deepEqual(ours.egl, [], `EGL loaded by requestGpuAdapter(): ${ours.egl.join(", ")}`);
    // An explicit DENO_WEBGPU_BACKEND is respected: asking for OpenGL too loads EGL where it is
    // installed (which also shows that the probe sees it).
    const gl = await probe("vulkan,gl");
    assert.ok(gl.adapter);
    if (gl.egl.length === 0) console.log("(no EGL on this machine: the control is vacuous)");
  },
});

const PIN_PROBE = fileURLToPath(new URL("./_driver_pin_probe.ts", import.meta.url));

async function pinProbe(
  raw: boolean,
): Promise<{ adapter: boolean; during: string[]; after: string[] }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", PIN_PROBE, ...(raw ? ["--raw"] : [])],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
}

Deno.test({
  name:
    "WebGPU in a Worker: the Vulkan drivers stay loaded after it ends (no unmapping under an exiting process)",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    // The second race at exit (docs/reliability.md): a Worker's wgpu instance, destroyed as the
    // Worker ends, makes the Vulkan loader unload its drivers while the main thread may run code
    // in them. requestGpuAdapter pins the loaded libraries (bn_pin_loaded, RTLD_NODELETE).
    const ours = await pinProbe(false);
    if (!ours.adapter) {
      assert.ok(!require, "BENTEVI_REQUIRE_WEBGPU=1 but no WebGPU adapter");
      return;
    }
    assert.ok(ours.during.length > 0, "no Vulkan driver mapped while the Worker ran");
    assert.deepEqual(ours.after, ours.during, "a driver was unloaded after the Worker ended");
    // The control: asked for straight from navigator.gpu (no pin), the drivers are unloaded.
    const raw = await pinProbe(true);
    console.log(
      `without the pin, drivers left mapped after the Worker: ${raw.after.length} of ${raw.during.length}`,
    );
  },
});

Deno.test({
  name: "WebGPU env: the XDG_RUNTIME_DIR made for Mesa is removed when the program ends",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    // Every CLI run that asked for a GPU with XDG_RUNTIME_DIR unset used to leave a
    // /tmp/bentevi-xdg-* folder behind (1,097 of them on the development VM).
    const adapterUrl = new URL("../../src/backend/gpu_adapter.ts", import.meta.url).href;
    const script = `import { prepareWebGpuEnv } from ${JSON.stringify(adapterUrl)};
prepareWebGpuEnv();
const dir = Deno.env.get("XDG_RUNTIME_DIR");
console.log(dir, Deno.statSync(dir).isDirectory);
if (Deno.args[0] === "exit") Deno.exit(3);`;
    for (const how of ["end", "exit"]) {
      const env = Deno.env.toObject();
      delete env.XDG_RUNTIME_DIR;
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["eval", "--ext=ts", script, how],
        env,
        clearEnv: true,
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(out.code, how === "exit" ? 3 : 0, new TextDecoder().decode(out.stderr));
      const [dir, made] = new TextDecoder().decode(out.stdout).trim().split(" ");
      assert.ok(dir.includes("bentevi-xdg-") && made === "true", `made ${dir}`);
      assert.throws(() => Deno.statSync(dir), Deno.errors.NotFound, `${dir} left after ${how}`);
    }
  },
});
