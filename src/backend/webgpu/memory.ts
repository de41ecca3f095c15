/**
 * Tensor memory of the WebGPU backend: allocation from the context's buffer pool, views,
 * writes (staging copies recorded in order with the ops) and reads (submit, then map).
 *
 * @module
 */
import type { DType, Tensor } from "../backend.ts";
import { dtypeOf, elementCount } from "../checks.ts";
import { type GpuContext, GpuTensor, gpuTensor } from "./context.ts";

/** A new zero-filled tensor (pooled buffers are cleared in the command stream). */
export function zeros(ctx: GpuContext, shape: readonly number[], dtype: DType): GpuTensor {
  const size = elementCount(shape);
  const buf = ctx.allocBuf(size * 4);
  if (buf.pooled) ctx.encoder().clearBuffer(buf.buffer, 0, buf.bytes);
  return new GpuTensor([...shape], dtype, buf, 0, true);
}

/** A new tensor holding a copy of `data`. */
export function fromArray(
  ctx: GpuContext,
  shape: readonly number[],
  data: Float32Array | Int32Array,
): GpuTensor {
  const size = data.length, dtype = dtypeOf(data);
  const t = new GpuTensor([...shape], dtype, ctx.allocBuf(size * 4), 0, true);
  if (size > 0) write(ctx, t, data, 0);
  return t;
}

/** A tensor aliasing `base` from element `offset` (checked by the caller to fit). */
export function view(base: Tensor, offset: number, shape: readonly number[]): GpuTensor {
  const b = gpuTensor("view", "base", base, base.dtype);
  return new GpuTensor([...shape], b.dtype, b.buffer, b.offset + offset, false);
}

/** Overwrites `t` from element `offset`: a staging copy recorded in order with the ops. */
export function write(
  ctx: GpuContext,
  t: Tensor,
  data: Float32Array | Int32Array,
  offset: number,
): void {
  const g = gpuTensor("write", "tensor", t, t.dtype);
  if (data.length === 0) return;
  const staging = ctx.device.createBuffer({
    size: data.length * 4,
    usage: GPUBufferUsage.MAP_WRITE | GPUBufferUsage.COPY_SRC,
    mappedAtCreation: true,
  });
  const mapped = staging.getMappedRange();
  if (data instanceof Int32Array) new Int32Array(mapped).set(data);
  else new Float32Array(mapped).set(data);
  staging.unmap();
  ctx.encoder().copyBufferToBuffer(
    staging,
    0,
    g.buffer.buffer,
    (g.offset + offset) * 4,
    data.length * 4,
  );
  ctx.afterSubmit(() => staging.destroy());
}

/** Submits pending work and reads `t` back. */
export async function read(
  ctx: GpuContext,
  t: Tensor,
  into?: Float32Array | Int32Array,
): Promise<Float32Array | Int32Array> {
  const g = gpuTensor("read", "tensor", t, t.dtype);
  const bytes = g.size * 4;
  if (bytes === 0) return into ?? (g.dtype === "i32" ? new Int32Array(0) : new Float32Array(0));
  const staging = ctx.device.createBuffer({
    size: bytes,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  ctx.encoder().copyBufferToBuffer(g.buffer.buffer, g.offset * 4, staging, 0, bytes);
  ctx.flush();
  try {
    await staging.mapAsync(GPUMapMode.READ);
  } catch (e) {
    ctx.checkAlive();
    throw e;
  }
  const mapped = staging.getMappedRange();
  let out: Float32Array | Int32Array;
  if (into) {
    into.set(g.dtype === "i32" ? new Int32Array(mapped) : new Float32Array(mapped));
    out = into;
  } else {
    const copy = mapped.slice(0);
    out = g.dtype === "i32" ? new Int32Array(copy) : new Float32Array(copy);
  }
  staging.unmap();
  staging.destroy();
  return out;
}

/** Returns a tensor's buffer to the pool (views need no free). */
export function free(ctx: GpuContext, t: Tensor): void {
  const g = gpuTensor("free", "tensor", t, t.dtype);
  if (!g.owner) throw new Error("free: views need no free(); free their base tensor");
  ctx.releaseBuf(g.buffer);
}
