/**
 * The WebGPU plumbing under the backend: device, tensors, buffer pool, pipeline cache, bind
 * group cache, per-dispatch uniforms and the one open command encoder / compute pass that ops
 * are recorded into.
 *
 * Recording model: every op appends a dispatch to the current compute pass; nothing is awaited.
 * `flush()` uploads the uniforms of this batch and submits. Each dispatch gets its own 256-byte
 * slot in a uniform chunk, so numbers passed to ops (lr, step, pos…) are captured per dispatch.
 * Uniform chunks are reused after a submit: the queue orders the next `writeBuffer` after the
 * work already submitted, so a chunk is never overwritten under a running dispatch.
 *
 * Kernels come from `kernel.ts` and are dispatched with their bindings and uniforms by name;
 * bind group layouts and bind groups are cached by the kernel's layout key and the buffers
 * (views) bound, so kernels with the same binding kinds share them.
 *
 * @module
 */
import { BenteviError } from "../../errors.ts";
import type { DType, Tensor } from "../backend.ts";
import { expectDtype } from "../checks.ts";
import type {
  BindingDecls,
  Kernel,
  Resources,
  TextureBinding,
  UniformDecls,
  UniformValues,
} from "./kernel.ts";

/** A tensor on the device: a buffer (shared by its views) plus an element offset. */
export class GpuTensor implements Tensor {
  /** Number of elements. */
  readonly size: number;
  /** A tensor over `buffer` from element `offset` (views share their base's buffer). */
  constructor(
    /** Dimensions. */
    readonly shape: readonly number[],
    /** Element type. */
    readonly dtype: DType,
    /** Backing buffer (shared by views). */
    readonly buffer: GpuBuf,
    /** Offset into the buffer, in elements. */
    readonly offset: number,
    /** True when this tensor owns its buffer (not a view). */
    readonly owner: boolean,
  ) {
    this.size = shape.reduce((a, b) => a * b, 1);
  }
}

/** A pooled device buffer with a stable id (for bind group keys). */
export interface GpuBuf {
  /** The buffer. */
  buffer: GPUBuffer;
  /** Capacity in bytes. */
  bytes: number;
  /** Stable id. */
  id: number;
  /** Set once released to the pool. */
  released: boolean;
  /** True when it came from the pool (may hold old data). */
  pooled: boolean;
}

/**
 * `t` as a tensor of this backend, checked: a WebGPU tensor, not freed, of `dtype`. `op` and
 * `name` make the message (`layerNorm: x was used after free()`).
 */
export function gpuTensor(op: string, name: string, t: Tensor, dtype: DType = "f32"): GpuTensor {
  if (!(t instanceof GpuTensor)) {
    throw new Error(
      `${op}: ${name} is not a WebGPU tensor (tensors cannot be mixed across backends)`,
    );
  }
  if (t.buffer.released) throw new Error(`${op}: ${name} was used after free()`);
  expectDtype(op, name, t, dtype);
  return t;
}

/**
 * Every tensor of `tensors` checked with {@link gpuTensor} under its own name (f32 unless
 * `dtypes` says otherwise); nulls stay null.
 */
export function gpuTensors<T extends Record<string, Tensor | null>>(
  op: string,
  tensors: T,
  dtypes: { [K in keyof T]?: DType } = {},
): { [K in keyof T]: null extends T[K] ? GpuTensor | null : GpuTensor } {
  const out: Record<string, GpuTensor | null> = {};
  for (const name in tensors) {
    const t = tensors[name];
    out[name] = t === null ? null : gpuTensor(op, name, t, dtypes[name]);
  }
  return out as { [K in keyof T]: null extends T[K] ? GpuTensor | null : GpuTensor };
}

const UNIFORM_SLOT = 256;
const PROFILE_SLOTS = 2048; // 2 timestamps each: the 4096-query limit of a query set
const UNIFORM_CHUNK = 64 * 1024;
const STORAGE_USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** Owns the device and records dispatches. */
export class GpuContext {
  /** The device. */
  readonly device: GPUDevice;
  /** The adapter it came from. */
  readonly adapter: GPUAdapter;
  /** Largest storage binding, in bytes. */
  readonly maxBinding: number;
  /** Why the device was lost, once it was. */
  lostReason: string | null = null;

  #nextId = 1;
  #pool = new Map<number, GpuBuf[]>();
  #pendingFree: GpuBuf[] = [];
  #afterSubmit: (() => void)[] = [];
  #pipelines = new Map<string, GPUComputePipeline>();
  #kernelPipelines = new WeakMap<Kernel, GPUComputePipeline>();
  #modules = new Map<string, GPUShaderModule>();
  #layouts = new Map<string, { bgl: GPUBindGroupLayout; pl: GPUPipelineLayout }>();
  #bindGroups = new Map<string, GPUBindGroup>();
  #chunks: {
    buffer: GPUBuffer;
    shadow: ArrayBuffer;
    u32: Uint32Array;
    i32: Int32Array;
    f32: Float32Array;
  }[] = [];
  #chunkIndex = 0;
  #slot = 0;
  #encoder: GPUCommandEncoder | null = null;
  #pass: GPUComputePassEncoder | null = null;
  #dispatches = 0;
  #dummy: GpuBuf;

  /** Takes over `device` (opened on `adapter`): watches for loss and validation errors. */
  constructor(adapter: GPUAdapter, device: GPUDevice) {
    this.adapter = adapter;
    this.device = device;
    this.maxBinding = device.limits.maxStorageBufferBindingSize;
    device.lost.then((info) => {
      this.lostReason = `${info.reason ?? "unknown"}: ${info.message || "no message"}`;
    });
    device.addEventListener("uncapturederror", (e) => {
      const err = (e as GPUUncapturedErrorEvent).error;
      this.lastError ??= err.message;
      console.error(`bentevi: WebGPU error: ${err.message}`);
    });
    this.#dummy = this.allocBuf(256);
  }

  /** The first uncaptured WebGPU error (validation / out of memory), if any. */
  lastError: string | undefined;

  /** Throws a clear error once the device is gone. */
  checkAlive(): void {
    if (this.lostReason !== null) {
      throw new BenteviError(
        `WebGPU device lost (${this.lostReason}); restart, or use --device cpu`,
      );
    }
  }

  // ---- buffers -------------------------------------------------------------------------------

  /** A buffer of at least `bytes` (pooled by power-of-two-ish size classes). */
  allocBuf(bytes: number): GpuBuf {
    const cls = sizeClass(Math.max(bytes, 256));
    const list = this.#pool.get(cls);
    const reused = list?.pop();
    if (reused) {
      reused.released = false;
      reused.pooled = true;
      return reused;
    }
    if (cls > this.device.limits.maxBufferSize) {
      throw new BenteviError(
        `tensor of ${bytes} bytes exceeds this WebGPU device's maxBufferSize (${this.device.limits.maxBufferSize})`,
      );
    }
    const buffer = this.device.createBuffer({ size: cls, usage: STORAGE_USAGE });
    return { buffer, bytes: cls, id: this.#nextId++, released: false, pooled: false };
  }

  /** A buffer for this batch only: it goes back to the pool after the next submit. */
  tempBuf(bytes: number): GpuBuf {
    const b = this.allocBuf(bytes);
    this.#pendingFree.push(b);
    this.afterSubmit(() => (b.released = true));
    return b;
  }

  /** Returns a buffer to the pool once the work recorded so far has been submitted. */
  releaseBuf(b: GpuBuf): void {
    if (b.released) return;
    b.released = true;
    this.#pendingFree.push(b);
  }

  /** Runs `fn` right after the next submit (e.g. destroying a staging buffer). */
  afterSubmit(fn: () => void): void {
    this.#afterSubmit.push(fn);
  }

  // ---- encoder -------------------------------------------------------------------------------

  /** The open command encoder (outside any pass). */
  encoder(): GPUCommandEncoder {
    this.checkAlive();
    if (this.#pass) {
      this.#pass.end();
      this.#pass = null;
    }
    if (!this.#encoder) this.#encoder = this.device.createCommandEncoder();
    return this.#encoder;
  }

  /** The open compute pass. */
  pass(): GPUComputePassEncoder {
    if (this.#pass) return this.#pass;
    const enc = this.encoder();
    this.#pass = enc.beginComputePass();
    return this.#pass;
  }

  /** Dispatches recorded since the last submit. */
  get pendingDispatches(): number {
    return this.#dispatches;
  }

  /** Uploads this batch's uniforms and submits everything recorded. */
  flush(): void {
    if (!this.#encoder) return;
    this.checkAlive();
    if (this.#pass) {
      this.#pass.end();
      this.#pass = null;
    }
    for (let i = 0; i <= this.#chunkIndex && i < this.#chunks.length; i++) {
      const c = this.#chunks[i];
      const used = i < this.#chunkIndex ? UNIFORM_CHUNK : this.#slot;
      if (used > 0) this.device.queue.writeBuffer(c.buffer, 0, c.shadow, 0, used);
    }
    this.device.queue.submit([this.#encoder.finish()]);
    this.#encoder = null;
    this.#chunkIndex = 0;
    this.#slot = 0;
    this.#dispatches = 0;
    for (const b of this.#pendingFree) {
      const list = this.#pool.get(b.bytes) ?? [];
      list.push(b);
      this.#pool.set(b.bytes, list);
    }
    this.#pendingFree = [];
    const fns = this.#afterSubmit;
    this.#afterSubmit = [];
    for (const fn of fns) fn();
  }

  // ---- pipelines and dispatch ------------------------------------------------------------

  #layout(k: Kernel) {
    let l = this.#layouts.get(k.layoutKey);
    if (!l) {
      const entries: GPUBindGroupLayoutEntry[] = [{
        binding: 0,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: "uniform", hasDynamicOffset: true, minBindingSize: 64 },
      }];
      for (const { type, binding } of k.slots) {
        const visibility = GPUShaderStage.COMPUTE;
        if (type === "texture_2d<f32>") {
          entries.push({ binding, visibility, texture: { sampleType: "unfilterable-float" } });
        } else if (type === "texture_storage_2d<rgba32float, write>") {
          entries.push({
            binding,
            visibility,
            storageTexture: { access: "write-only", format: "rgba32float" },
          });
        } else entries.push({ binding, visibility, buffer: { type: "storage" } });
      }
      const bgl = this.device.createBindGroupLayout({ entries });
      const pl = this.device.createPipelineLayout({ bindGroupLayouts: [bgl] });
      l = { bgl, pl };
      this.#layouts.set(k.layoutKey, l);
    }
    return l;
  }

  /** The (cached) pipeline of a kernel. */
  pipeline(k: Kernel): GPUComputePipeline {
    const cached = this.#kernelPipelines.get(k);
    if (cached) return cached;
    const key = `${k.entry}|${k.layoutKey}|${k.code}`;
    let p = this.#pipelines.get(key);
    if (!p) {
      let module = this.#modules.get(k.code);
      if (!module) {
        module = this.device.createShaderModule({ code: k.code });
        this.#modules.set(k.code, module);
      }
      p = this.device.createComputePipeline({
        layout: this.#layout(k).pl,
        compute: { module, entryPoint: k.entry },
      });
      this.#pipelines.set(key, p);
    }
    this.#kernelPipelines.set(k, p);
    return p;
  }

  #uniformSlot(k: Kernel, values: Record<string, number>): { chunk: number; offset: number } {
    if (this.#slot + UNIFORM_SLOT > UNIFORM_CHUNK) {
      this.#chunkIndex++;
      this.#slot = 0;
    }
    while (this.#chunks.length <= this.#chunkIndex) {
      const shadow = new ArrayBuffer(UNIFORM_CHUNK);
      this.#chunks.push({
        buffer: this.device.createBuffer({
          size: UNIFORM_CHUNK,
          usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
        }),
        shadow,
        u32: new Uint32Array(shadow),
        i32: new Int32Array(shadow),
        f32: new Float32Array(shadow),
      });
    }
    const c = this.#chunks[this.#chunkIndex];
    const offset = this.#slot;
    const base = offset / 4;
    for (let i = 0; i < k.uniforms.length; i++) {
      const [name, type] = k.uniforms[i];
      const v = values[name];
      if (type === "f32") c.f32[base + i] = v;
      else if (type === "u32") {
        if (!(v >= 0 && v <= 0xffffffff)) throw new Error(`uniform u32 out of range: ${v}`);
        c.u32[base + i] = v;
      } else c.i32[base + i] = v;
    }
    this.#slot += UNIFORM_SLOT;
    return { chunk: this.#chunkIndex, offset };
  }

  /**
   * Records one dispatch of `k` over `groups` workgroups, with its bindings and uniforms by
   * name (a null binding gets a small dummy buffer: the kernel does not read it).
   */
  dispatch<B extends BindingDecls, U extends UniformDecls>(
    k: Kernel<B, U>,
    resources: Resources<B>,
    uniforms: UniformValues<U>,
    groups: readonly [number, number?, number?],
  ): void {
    this.checkAlive();
    const [gx, gy = 1, gz = 1] = groups;
    if (gx === 0 || gy === 0 || gz === 0) return;
    const lim = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (gx > lim || gy > lim || gz > lim) {
      throw new BenteviError(
        `${k.entry}: dispatch of ${gx}×${gy}×${gz} workgroups exceeds this device's limit ${lim}`,
      );
    }
    const pipeline = this.pipeline(k);
    const { chunk, offset } = this.#uniformSlot(k, uniforms);
    let key = `${k.layoutKey}|${chunk}`;
    const entries: GPUBindGroupEntry[] = [{
      binding: 0,
      resource: { buffer: this.#chunks[chunk].buffer, offset: 0, size: 64 },
    }];
    const bound = resources as Record<string, GpuTensor | TextureBinding | null>;
    for (const { name, type, binding } of k.slots) {
      const r = bound[name];
      if (type.startsWith("texture")) {
        const tex = r as TextureBinding;
        key += `|${tex.id}`;
        entries.push({ binding, resource: tex.view });
        continue;
      }
      const t = r as GpuTensor | null;
      let buf: GpuBuf, off: number, size: number;
      if (t) {
        if (t.buffer.released) throw new Error(`${k.entry}: tensor used after free`);
        buf = t.buffer;
        off = t.offset * 4;
        size = Math.ceil((Math.max(t.size, 1) * 4) / 16) * 16; // vec4 views need 16-byte sizes
        if (off + size > buf.bytes) size = buf.bytes - off;
        if (size > this.maxBinding) {
          throw new BenteviError(
            `${k.entry}: tensor [${t.shape.join(", ")}] (${size} bytes) exceeds this WebGPU ` +
              `device's maxStorageBufferBindingSize (${this.maxBinding} bytes)`,
          );
        }
      } else {
        buf = this.#dummy;
        off = 0;
        size = 256;
      }
      key += `|${buf.id}:${off}:${size}`;
      entries.push({ binding, resource: { buffer: buf.buffer, offset: off, size } });
    }
    let bg = this.#bindGroups.get(key);
    if (!bg) {
      if (this.#bindGroups.size > 8192) this.#bindGroups.clear();
      bg = this.device.createBindGroup({
        layout: this.#layout(k).bgl,
        entries,
      });
      this.#bindGroups.set(key, bg);
    }
    let pass: GPUComputePassEncoder;
    const prof = this.#profiler;
    if (prof && prof.count < PROFILE_SLOTS) {
      // Profiling: one pass per dispatch, GPU timestamps at its start and end.
      const i = prof.count++;
      prof.names.push(k.label);
      pass = this.encoder().beginComputePass({
        timestampWrites: {
          querySet: prof.querySet,
          beginningOfPassWriteIndex: 2 * i,
          endOfPassWriteIndex: 2 * i + 1,
        },
      });
      this.#pass = pass;
    } else pass = this.pass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bg, [offset]);
    pass.dispatchWorkgroups(gx, gy, gz);
    this.#dispatches++;
    if (prof) {
      pass.end();
      this.#pass = null;
    }
  }

  // ---- profiling -----------------------------------------------------------------------------

  #profiler: {
    querySet: GPUQuerySet;
    resolve: GPUBuffer;
    count: number;
    names: string[];
    totals: Map<string, { count: number; ms: number }>;
  } | null = null;

  /** Whether GPU timestamps can be taken (the device has "timestamp-query"). */
  get canProfile(): boolean {
    return this.device.features.has("timestamp-query");
  }

  /** Starts timing every dispatch with GPU timestamps (one pass per dispatch while on). */
  startProfile(): void {
    if (!this.canProfile) {
      throw new BenteviError("profiling needs the WebGPU feature timestamp-query");
    }
    this.flush();
    this.#profiler = {
      querySet: this.device.createQuerySet({ type: "timestamp", count: 2 * PROFILE_SLOTS }),
      resolve: this.device.createBuffer({
        size: 16 * PROFILE_SLOTS,
        usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
      }),
      count: 0,
      names: [],
      totals: new Map(),
    };
  }

  /** Submits, collects the timestamps so far and returns GPU ms per kernel entry point. */
  async collectProfile(): Promise<Map<string, { count: number; ms: number }>> {
    const prof = this.#profiler;
    if (!prof) throw new Error("collectProfile: startProfile() first");
    if (prof.count > 0) {
      const n = prof.count;
      const staging = this.device.createBuffer({
        size: 16 * n,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      });
      const enc = this.encoder();
      enc.resolveQuerySet(prof.querySet, 0, 2 * n, prof.resolve, 0);
      enc.copyBufferToBuffer(prof.resolve, 0, staging, 0, 16 * n);
      this.flush();
      await staging.mapAsync(GPUMapMode.READ);
      const t = new BigUint64Array(staging.getMappedRange().slice(0));
      staging.unmap();
      staging.destroy();
      for (let i = 0; i < n; i++) {
        const e = prof.totals.get(prof.names[i]) ?? { count: 0, ms: 0 };
        e.count++;
        e.ms += Number(t[2 * i + 1] - t[2 * i]) / 1e6;
        prof.totals.set(prof.names[i], e);
      }
      prof.count = 0;
      prof.names = [];
    }
    return prof.totals;
  }

  /** Stops profiling. */
  stopProfile(): void {
    if (!this.#profiler) return;
    this.flush();
    this.#profiler.querySet.destroy();
    this.#profiler.resolve.destroy();
    this.#profiler = null;
  }

  /** Destroys every buffer and forgets every cache. */
  destroy(): void {
    for (const list of this.#pool.values()) for (const b of list) b.buffer.destroy();
    for (const b of this.#pendingFree) b.buffer.destroy();
    for (const c of this.#chunks) c.buffer.destroy();
    this.#pool.clear();
    this.#pendingFree = [];
    this.#bindGroups.clear();
    this.#pipelines.clear();
    this.device.destroy();
  }
}

function sizeClass(bytes: number): number {
  // Round up to 256 B, then to 1/8 steps of the next power of two: little waste, good reuse.
  const b = Math.ceil(bytes / 256) * 256;
  if (b <= 4096) return b;
  const p = 2 ** Math.floor(Math.log2(b));
  const step = p / 8;
  return Math.ceil(b / step) * step;
}
