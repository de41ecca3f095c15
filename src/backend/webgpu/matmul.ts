/**
 * Matmul variants of the WebGPU backend and the choice between them:
 *
 * - `"tiled"` (`wgsl/matmul.wgsl`): shared-memory 64×64 tiles, 4×4 outputs per invocation —
 *   the classic kernel for real GPUs, and the fallback for any shape.
 * - `"texture"` (`wgsl/matmul_tex.wgsl`): both operands packed into `rgba32float` textures
 *   (transposes resolved, zero padded), then large register tiles from `textureLoad`s, no
 *   workgroup memory — the fastest form on CPU adapters such as llvmpipe (see LLVMPIPE.md).
 *
 * `"auto"` picks `texture` on fallback (CPU) adapters and `tiled` elsewhere.
 *
 * @module
 */
import type { MatmulOptions, Tensor } from "../backend.ts";
import { matmulDims } from "../checks.ts";
import { type GpuContext, GpuTensor, gpuTensor, gpuTensors } from "./context.ts";
import { addInto, copy, fill } from "./elementwise.ts";
import { kernel } from "./kernel.ts";
import matmulSrc from "../../../wgsl/matmul.wgsl" with { type: "text" };
import matmulTexSrc from "../../../wgsl/matmul_tex.wgsl" with { type: "text" };
import matmulPackSrc from "../../../wgsl/matmul_pack.wgsl" with { type: "text" };
import matvecSrc from "../../../wgsl/matvec.wgsl" with { type: "text" };

/** A matmul implementation. */
export type MatmulVariant = "tiled" | "texture";

/** Register tile of the texture kernel: TM rows × 4·TN4 columns per invocation. */
export interface TextureTile {
  /** Rows per invocation. */
  TM: number;
  /** vec4 columns per invocation. */
  TN4: number;
  /** Workgroup size x (columns). */
  WGX: number;
  /** Workgroup size y (rows). */
  WGY: number;
}

/** Dimensions of one matmul call (logical, after transposes). */
export interface MatmulDims {
  /** Rows of the output. */
  M: number;
  /** Columns of the output. */
  N: number;
  /** Inner dimension. */
  K: number;
  /** `a` stored `[K, M]`. */
  transA: boolean;
  /** `b` stored `[N, K]`. */
  transB: boolean;
}

const OUTPUT = { M: "u32", N: "u32", K: "u32", hasBias: "u32", accumulate: "u32" } as const;

const MATVEC_TB = kernel({
  source: matvecSrc,
  entry: "matvec_tb",
  bindings: { out: "f32", b: "vec4<f32>", bias: "f32", a4: "vec4<f32>" },
  uniforms: OUTPUT,
});
const MATVEC_NB = kernel({
  source: matvecSrc,
  entry: "matvec_nb",
  bindings: { out: "f32", a: "f32", b: "vec4<f32>", bias: "f32" },
  uniforms: OUTPUT,
});
/** Up to this many output rows go to the matvec kernels (generation). */
export const MATVEC_MAX_ROWS = 8;

const TILED = kernel({
  source: matmulSrc,
  entry: "matmul_tiled",
  bindings: { out: "f32", a: "f32", b: "f32", bias: "f32" },
  uniforms: { ...OUTPUT, transA: "u32", transB: "u32" },
});
const PACKED = "texture_storage_2d<rgba32float, write>";
const PACK_UNIFORMS = { R: "u32", Cc: "u32", trans: "u32", texW: "u32", texH: "u32" } as const;
const PACK = kernel({
  source: matmulPackSrc,
  entry: "pack",
  bindings: { src: "f32", packed: PACKED },
  uniforms: PACK_UNIFORMS,
});
const PACK_T4 = kernel({
  source: matmulPackSrc,
  entry: "pack_t4",
  bindings: { src4: "vec4<f32>", packed: PACKED },
  uniforms: PACK_UNIFORMS,
});
const PACK_VEC4 = kernel({
  source: matmulPackSrc,
  entry: "pack_vec4",
  bindings: { src4: "vec4<f32>", packed: PACKED },
  uniforms: PACK_UNIFORMS,
});

/** Register tile on CPU adapters for narrow outputs (N < 512): 16×16 outputs, 8×8 workgroup. */
export const NARROW_TILE: TextureTile = { TM: 16, TN4: 4, WGX: 8, WGY: 8 };
/** Register tile for wide outputs (N ≥ 512): 16×32 outputs, 8×4 workgroup. */
export const WIDE_TILE: TextureTile = { TM: 16, TN4: 8, WGX: 8, WGY: 4 };

/**
 * The tile for a shape on llvmpipe. Measured here (GFLOP per CPU-second, 2-core AVX2): the wide
 * tile does 16–17 at 1024³ and 13.4 on 1024×128·128×4096 (vs 13.9 and 11.6 narrow); with
 * N = 128 only half its lanes have columns, so the narrow tile wins there (9–11 vs 6–7).
 */
export function tileFor(d: MatmulDims): TextureTile {
  return d.N >= 512 ? WIDE_TILE : NARROW_TILE;
}

/** The `matmul_tex.wgsl` kernel for one register tile (its template expanded). */
export function textureKernel(tile: TextureTile) {
  const { TM, TN4 } = tile;
  const rows = [...Array(TM).keys()], cols = [...Array(TN4).keys()];
  const declare = rows.flatMap((r) => cols.map((j) => `var acc_${r}_${j} = vec4<f32>(0.0);`));
  const loadB = cols.flatMap((j) =>
    [0, 1, 2, 3].map((q) =>
      `let b${q}_${j} = textureLoad(Bt, vec2<u32>(c4 + ${j}u, k + ${q}u), 0);`
    )
  );
  const multiply = rows.flatMap((r) => [
    `let a${r} = textureLoad(At, vec2<u32>(k4, r0 + ${r}u), 0);`,
    ...cols.map((j) =>
      `acc_${r}_${j} += a${r}.x * b0_${j} + a${r}.y * b1_${j} + a${r}.z * b2_${j} + a${r}.w * b3_${j};`
    ),
  ]);
  const store = rows.flatMap((r) =>
    cols.map((j) => `store4(r0 + ${r}u, c4 + ${j}u, acc_${r}_${j});`)
  );
  const expand = (marker: string, lines: string[]) => (src: string) =>
    src.replace(`//@${marker}`, lines.join("\n    "));
  let code = matmulTexSrc;
  for (
    const f of [
      expand("DECLARE", declare),
      expand("LOAD_B", loadB),
      expand("MULTIPLY", multiply),
      expand("STORE", store),
    ]
  ) code = f(code);
  return kernel({
    source: code,
    entry: "matmul_tex",
    bindings: { out: "f32", bias: "f32", At: "texture_2d<f32>", Bt: "texture_2d<f32>" },
    uniforms: { M: "u32", N: "u32", K4: "u32", hasBias: "u32", accumulate: "u32" },
    consts: { ...tile },
  });
}

/** Records matmuls with the variant chosen for the adapter. */
export class MatmulKernels {
  /** The variant used when a shape allows it. */
  readonly variant: MatmulVariant;
  /** Register tile of the texture variant; null picks per shape with {@link tileFor}. */
  tile: TextureTile | null;
  #ctx: GpuContext;
  #textures = new Map<string, { tex: GPUTexture; view: GPUTextureView; id: string }>();
  #texId = 0;
  #texKernels = new Map<string, ReturnType<typeof textureKernel>>();

  /** `variant` "auto" picks by adapter; `tile` fixes the texture kernel's tile (null: per shape). */
  constructor(ctx: GpuContext, variant: "auto" | MatmulVariant, tile: TextureTile | null = null) {
    this.#ctx = ctx;
    this.variant = variant === "auto"
      ? (ctx.adapter.info.isFallbackAdapter ? "texture" : "tiled")
      : variant;
    this.tile = tile;
  }

  /** `out (=|+=) op(a)·op(b) (+ bias)` (see `Backend.matmul`); shapes already validated. */
  matmul(out: Tensor, a: Tensor, b: Tensor, options: MatmulOptions): void {
    const dims = matmulDims(a, b, options);
    const { M, N, K } = dims;
    const t = gpuTensors("matmul", { out, a, b });
    const bias = options.bias ? gpuTensor("matmul", "bias", options.bias) : null;
    if (M * N === 0) return;
    if (K === 0) {
      // An empty inner dimension: out = bias (or unchanged when accumulating).
      const row = (m: number) =>
        new GpuTensor([N], "f32", t.out.buffer, t.out.offset + m * N, false);
      if (options.accumulate) {
        if (bias) { for (let m = 0; m < M; m++) addInto(this.#ctx, row(m), bias, 1); }
      } else if (bias) { for (let m = 0; m < M; m++) copy(this.#ctx, row(m), bias); }
      else fill(this.#ctx, t.out, 0);
      return;
    }
    this.record(t.out, t.a, t.b, bias, dims, options.accumulate ?? false);
  }

  /** `out (=|+=) op(a)·op(b) (+ bias)` on checked device tensors, by the adapter's variant. */
  record(
    out: GpuTensor,
    a: GpuTensor,
    b: GpuTensor,
    bias: GpuTensor | null,
    d: MatmulDims,
    accumulate: boolean,
  ): void {
    const u = { M: d.M, N: d.N, K: d.K, hasBias: bias ? 1 : 0, accumulate: accumulate ? 1 : 0 };
    if (this.#matvecFits(d)) {
      const groups = [Math.ceil((d.transB ? d.N : d.N / 4) / 64), Math.ceil(d.M / 4)] as const;
      if (d.transB) this.#ctx.dispatch(MATVEC_TB, { out, b, bias, a4: a }, u, groups);
      else this.#ctx.dispatch(MATVEC_NB, { out, a, b, bias }, u, groups);
      return;
    }
    if (this.variant === "texture" && this.#textureFits(d)) {
      this.#recordTexture(out, a, b, bias, d, accumulate);
    } else {
      this.#recordTiled(out, a, b, bias, d, accumulate);
    }
  }

  #recordTiled(
    out: GpuTensor,
    a: GpuTensor,
    b: GpuTensor,
    bias: GpuTensor | null,
    d: MatmulDims,
    accumulate: boolean,
  ): void {
    const u = {
      M: d.M,
      N: d.N,
      K: d.K,
      transA: d.transA ? 1 : 0,
      transB: d.transB ? 1 : 0,
      hasBias: bias ? 1 : 0,
      accumulate: accumulate ? 1 : 0,
    };
    this.#ctx.dispatch(TILED, { out, a, b, bias }, u, [Math.ceil(d.N / 64), Math.ceil(d.M / 64)]);
  }

  #dims(d: MatmulDims, tile: TextureTile) {
    const { TM, TN4 } = tile;
    const K4 = Math.ceil(d.K / 4);
    const rowTiles = Math.ceil(d.M / TM);
    const colTiles = Math.ceil(d.N / (4 * TN4));
    // Power-of-two texture sizes: llvmpipe compiles a separate, far slower-to-build shader
    // variant for non-power-of-two textures (18 s on first use here); the padding is never read.
    return {
      K4,
      aW: pot(K4),
      aH: pot(rowTiles * TM),
      bW: pot(colTiles * TN4),
      bH: pot(K4 * 4),
      rowTiles,
      colTiles,
    };
  }

  #matvecFits(d: MatmulDims): boolean {
    return d.M <= MATVEC_MAX_ROWS && !d.transA && d.K % 4 === 0 && (d.transB || d.N % 4 === 0) &&
      Math.ceil((d.transB ? d.N : d.N / 4) / 64) <= 65535;
  }

  #textureFits(d: MatmulDims): boolean {
    const max = this.#ctx.device.limits.maxTextureDimension2D;
    const x = this.#dims(d, this.tile ?? tileFor(d));
    return Math.max(x.aW, x.aH, x.bW, x.bH) <= max;
  }

  #texture(role: string, w: number, h: number) {
    const key = `${role}:${w}x${h}`;
    let t = this.#textures.get(key);
    if (!t) {
      const tex = this.#ctx.device.createTexture({
        size: [w, h],
        format: "rgba32float",
        usage: GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.TEXTURE_BINDING,
      });
      t = { tex, view: tex.createView(), id: `tex${this.#texId++}` };
      this.#textures.set(key, t);
    }
    return t;
  }

  #pack(
    src: GpuTensor,
    rows: number,
    cols: number,
    trans: boolean,
    tex: { view: GPUTextureView; id: string },
    w: number,
    h: number,
  ): void {
    const u = { R: rows, Cc: cols, trans: trans ? 1 : 0, texW: w, texH: h };
    const packed = { view: tex.view, id: tex.id };
    if (trans && rows % 4 === 0) {
      const groups = [Math.ceil(w / 8), Math.ceil(h / 32)] as const;
      this.#ctx.dispatch(PACK_T4, { src4: src, packed }, u, groups);
    } else if (!trans && cols % 4 === 0) {
      this.#ctx.dispatch(PACK_VEC4, { src4: src, packed }, u, [Math.ceil(w / 8), Math.ceil(h / 8)]);
    } else this.#ctx.dispatch(PACK, { src, packed }, u, [Math.ceil(w / 8), Math.ceil(h / 8)]);
  }

  #recordTexture(
    out: GpuTensor,
    a: GpuTensor,
    b: GpuTensor,
    bias: GpuTensor | null,
    d: MatmulDims,
    accumulate: boolean,
  ): void {
    const tile = this.tile ?? tileFor(d);
    const x = this.#dims(d, tile);
    const at = this.#texture("A", x.aW, x.aH), bt = this.#texture("B", x.bW, x.bH);
    // Only the region the kernel reads is packed (the rest of a pooled texture is never read).
    this.#pack(a, d.M, d.K, d.transA, at, x.K4, x.rowTiles * tile.TM);
    this.#pack(b, d.K, d.N, d.transB, bt, x.colTiles * tile.TN4, x.K4 * 4);
    const { TM, TN4, WGX, WGY } = tile;
    const tileKey = `${TM},${TN4},${WGX},${WGY}`;
    let k = this.#texKernels.get(tileKey);
    if (!k) {
      k = textureKernel(tile);
      this.#texKernels.set(tileKey, k);
    }
    const u = { M: d.M, N: d.N, K4: x.K4, hasBias: bias ? 1 : 0, accumulate: accumulate ? 1 : 0 };
    this.#ctx.dispatch(k, { out, bias, At: at, Bt: bt }, u, [
      Math.ceil(x.colTiles / WGX),
      Math.ceil(x.rowTiles / WGY),
    ]);
  }

  /** Destroys the cached operand textures. */
  destroy(): void {
    for (const t of this.#textures.values()) t.tex.destroy();
    this.#textures.clear();
  }
}

function pot(n: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(n, 1)));
}
