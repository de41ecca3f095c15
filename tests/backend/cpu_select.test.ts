import assert from "node:assert/strict";
import { BenteviError } from "../../src/errors.ts";
import {
  CpuBackend,
  createBackend,
  readF32,
  readI32,
  readScalar,
  requestGpuAdapter,
  tensorFromArray,
} from "../../src/backend/mod.ts";

Deno.test("createBackend: cpu gives the CPU backend", async () => {
  const backend = await createBackend("cpu");
  assert.ok(backend instanceof CpuBackend);
  assert.equal(backend.kind, "cpu");
  backend.destroy();
});

Deno.test("createBackend: auto gives a working backend and explains a CPU fallback", async () => {
  const lines: string[] = [];
  const backend = await createBackend("auto", { log: (line) => lines.push(line) });
  if (backend.kind !== "webgpu" || lines.length) {
    // The CPU backends (and WebGPU on a software adapter) say why they were chosen.
    assert.equal(lines.length, 1);
    assert.match(lines[0], /CPU backend/);
  } else {
    assert.equal(lines.length, 0);
  }
  const x = tensorFromArray(backend, [3], [1, 2, 3]);
  const total = backend.zeros([1]);
  backend.sum(total, x);
  assert.equal(await readScalar(backend, total), 6);
  backend.destroy();
});

Deno.test("createBackend: without an adapter, auto falls back to the CPU with one notice", async () => {
  const lines: string[] = [];
  const backend = await createBackend("auto", {
    adapter: null,
    native: false, // (the native backend's own tests cover auto choosing it)
    log: (line) => lines.push(line),
  });
  assert.ok(backend instanceof CpuBackend);
  assert.equal(lines.length, 1);
  assert.match(lines[0], /no WebGPU adapter found, using the CPU backend/);
  if (Deno.build.os === "linux") assert.match(lines[0], /apt-get install -y mesa-vulkan-drivers/);
  await assert.rejects(
    () => createBackend("webgpu", { adapter: null }),
    (e: Error) =>
      e instanceof BenteviError && /^--device webgpu: no WebGPU adapter found/.test(e.message),
  );
});

Deno.test("createBackend: an unknown device is a BenteviError", async () => {
  await assert.rejects(
    // deno-lint-ignore no-explicit-any
    () => createBackend("tpu" as any),
    (e: Error) => e instanceof BenteviError && /unknown device "tpu"/.test(e.message),
  );
});

Deno.test("createBackend: webgpu either works or fails with a clear BenteviError", async () => {
  try {
    const backend = await createBackend("webgpu");
    assert.equal(backend.kind, "webgpu");
    backend.destroy();
  } catch (e) {
    assert.ok(e instanceof BenteviError, String(e));
    assert.match(e.message, /^--device webgpu: /);
  }
});

Deno.test("helpers: tensorFromArray, readF32, readI32 check dtypes", async () => {
  const cpu = new CpuBackend();
  const x = tensorFromArray(cpu, [2], [1.5, 2.5]);
  const ids = tensorFromArray(cpu, [2], [3, 4], "i32");
  assert.deepEqual([...await readF32(cpu, x)], [1.5, 2.5]);
  assert.deepEqual([...await readI32(cpu, ids)], [3, 4]);
  await assert.rejects(() => readF32(cpu, ids), /readF32: tensor is i32/);
  await assert.rejects(() => readI32(cpu, x), /readI32: tensor is f32/);
});

Deno.test("CpuBackend f64 precision: same ops in double precision, read gives Float32Array", async () => {
  const cpu = new CpuBackend({ precision: "f64" });
  const x = cpu.fromArray([2], new Float32Array([1, 3]));
  assert.ok(cpu.array(x) instanceof Float64Array);
  cpu.scale(x, 1 / 3);
  assert.equal(cpu.array(x)[1], 1);
  assert.equal((cpu.array(x) as Float64Array)[0], 1 / 3);
  assert.ok((await cpu.read(x)) instanceof Float32Array);
});

Deno.test("createBackend: for decoding, auto prefers the CPU over a software adapter", async () => {
  const software = { info: { isFallbackAdapter: true, description: "llvmpipe" } };
  const lines: string[] = [];
  const backend = await createBackend("auto", {
    adapter: software as unknown as GPUAdapter,
    workload: "decode",
    native: false,
    log: (line) => lines.push(line),
  });
  assert.ok(backend instanceof CpuBackend);
  assert.equal(lines.length, 1);
  assert.match(lines[0], /llvmpipe.*runs on the CPU.*--device webgpu/);
  backend.destroy();
  // A hardware adapter is not passed over for decoding.
  const real = await requestGpuAdapter();
  if (real && !real.info.isFallbackAdapter) {
    const gpu = await createBackend("auto", { adapter: real, workload: "decode" });
    assert.equal(gpu.kind, "webgpu");
    gpu.destroy();
  }
});
