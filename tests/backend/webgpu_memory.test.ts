// WebGPU memory semantics: zeros/fromArray/view/write/read/free, write ordered with recorded
// ops, scalars captured per dispatch, i32 tensors, pooled buffers come back zeroed, views at
// VIEW_ALIGN offsets, clear errors for misuse and for oversized bindings.
import assert from "node:assert/strict";
import { BenteviError } from "../../src/errors.ts";
import { assertClose } from "./_helpers.ts";
import { createWebGpuBackendClass } from "../../src/backend/webgpu/mod.ts";
import { gpuBackend, gpuTest } from "./webgpu_parity.ts";

Deno.test({
  name: "webgpu memory: write is ordered with recorded ops, scalars captured per dispatch",
  ...gpuTest,
  fn: async () => {
    const gpu = await gpuBackend();
    const t = gpu.fromArray([3], new Float32Array([1, 2, 3]));
    gpu.scale(t, 2); // recorded, not yet submitted
    gpu.write(t, new Float32Array([10]), 1); // must land after the scale
    gpu.scale(t, 3); // a second value for the same kernel
    gpu.addInto(t, t, 1); // aliasing in one dispatch: t = 2t
    assertClose(await gpu.read(t), [12, 60, 36], 0, "ordered ops");
    gpu.free(t);
  },
});

Deno.test({
  name: "webgpu memory: views alias their base, i32 tensors, pooled buffers are zeroed",
  ...gpuTest,
  fn: async () => {
    const gpu = await gpuBackend();
    const base = gpu.zeros([256]);
    const a = gpu.view(base, 64, [2, 3]), b = gpu.view(base, 192, [6]);
    gpu.fill(a, 1.5);
    gpu.copy(b, a); // same buffer: goes through a kernel
    const all = await gpu.read(base);
    assert.equal(all[63], 0);
    assert.equal(all[64], 1.5);
    assert.equal(all[70], 0);
    assertClose(await gpu.read(b), [1.5, 1.5, 1.5, 1.5, 1.5, 1.5], 0, "copy between views");
    assert.throws(() => gpu.view(base, 10, [2]), /multiple of 64/);
    assert.throws(() => gpu.view(base, 192, [100]), /does not fit/);
    assert.throws(() => gpu.free(a), /views need no free/);
    const ids = gpu.fromArray([4], new Int32Array([-1, 7, 2 ** 31 - 1, 0]));
    assert.deepEqual(await gpu.read(ids), new Int32Array([-1, 7, 2 ** 31 - 1, 0]));
    gpu.fill(ids, -3);
    assert.deepEqual(await gpu.read(ids), new Int32Array([-3, -3, -3, -3]));
    gpu.free(ids);
    gpu.fill(base, 9);
    gpu.free(base);
    gpu.flush();
    const again = gpu.zeros([256]); // likely the same pooled buffer: must read as zeros
    assert.ok((await gpu.read(again)).every((v) => v === 0));
    gpu.free(again);
    assert.throws(() => gpu.scale(again, 2), /used after free/);
  },
});

Deno.test({
  name: "webgpu memory: misuse is refused with clear messages",
  ...gpuTest,
  fn: async () => {
    const gpu = await gpuBackend();
    const x = gpu.zeros([4]);
    assert.throws(() => gpu.write(x, new Float32Array(5)), /do not fit/);
    assert.throws(() => gpu.write(x, new Int32Array(2)), /Int32Array data into a f32 tensor/);
    assert.throws(() => gpu.fromArray([2, 2], new Float32Array(3)), /needs 4 elements/);
    assert.throws(() => gpu.add(x, x, gpu.zeros([5])), /add: a \[4\] and b \[5\] differ in size/);
    const limit = gpu.ctx.maxBinding;
    if ((limit + 256) <= gpu.ctx.device.limits.maxBufferSize && limit <= 2 ** 30) {
      const big = gpu.zeros([limit / 4 + 64]);
      assert.throws(
        () => gpu.scale(big, 2),
        (e: unknown) => e instanceof BenteviError && /maxStorageBufferBindingSize/.test(e.message),
      );
      gpu.free(big);
    }
    gpu.free(x);
    await gpu.sync();
  },
});

Deno.test({
  name: "webgpu memory: a lost device is reported clearly",
  ...gpuTest,
  fn: async () => {
    const gpu = await createWebGpuBackendClass();
    const t = gpu.zeros([4]);
    gpu.ctx.device.destroy(); // the same path as a driver reset: device.lost resolves
    await gpu.ctx.device.lost;
    await new Promise((r) => setTimeout(r, 0));
    assert.throws(
      () => gpu.scale(t, 2),
      (e: unknown) => e instanceof BenteviError && /WebGPU device lost/.test(e.message),
    );
  },
});
