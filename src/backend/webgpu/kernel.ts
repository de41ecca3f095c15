/**
 * Kernel declarations. A kernel names its bindings, uniforms and constants in TypeScript and
 * {@link kernel} generates the WGSL that declares them, in front of the kernel's own code, so
 * that the host and the shader cannot disagree on what binding 3 or uniform word 5 means:
 *
 * ```ts ignore
 * const LN_FORWARD = kernel({
 *   source: layernormSrc,
 *   entry: "ln_forward",
 *   bindings: { out: "T", mean: "f32", rstd: "f32", x: "T", w: "T", b: "T" },
 *   uniforms: { N: "u32", C: "u32", eps: "f32" },
 *   width: 1,
 * });
 * ctx.dispatch(LN_FORWARD, { out, mean, rstd, x, w, b }, { N, C, eps }, groups);
 * ```
 *
 * generates, before the `ln_forward` section of `layernorm.wgsl`:
 *
 * ```wgsl
 * struct Uniforms { N: u32, C: u32, eps: f32 }
 * @group(0) @binding(0) var<uniform> p: Uniforms;
 * @group(0) @binding(1) var<storage, read_write> out: array<T>;
 * …
 * alias T = f32;
 * ```
 *
 * and the WGSL refers to `out[i]`, `p.N`, `p.eps`. Bindings are numbered 1, 2, … in
 * declaration order (binding 0 is the uniform block), and a dispatch passes them as one object
 * with the same names.
 *
 * - **Sections.** A WGSL file holds several kernels: the text before its first
 *   `//@kernel NAME` line is shared by all of them, and each kernel gets the shared part plus
 *   the section from its own marker to the next. Each kernel therefore declares only the
 *   bindings it uses, under names that say what they hold.
 * - **Constants.** `consts: { HS: 64 }` becomes `const HS: u32 = 64u;` and also sets the
 *   count of the `//@REPEAT` template lines ({@link expandRepeats}). WGSL `override`s cannot
 *   replace them: naga refuses override-sized private arrays (`array<f32, HS>` in
 *   attention.wgsl), and the templates need the number to generate straight-line code.
 * - **Width.** A kernel with `width` is written once over the element type `T` and its
 *   vec4 variant is generated: `alias T = f32` (width 1) or `vec4<f32>` (width 4), `W` the
 *   elements per `T`, and four helpers that make the same code right for both — `hsum(v)` and
 *   `hmax(v)` (across lanes), `lane(v, i)` (element i of a T), `onehot(i, t)` (the T at index
 *   i with 1 where element index i·W + lane equals t).
 *
 * @module
 */
import type { GpuTensor } from "./context.ts";
import { expandRepeats } from "./template.ts";

/** Element type of a storage buffer binding (`T`: the kernel's width-generic element). */
export type StorageType = "f32" | "i32" | "vec4<f32>" | "T";
/** A sampled texture (matmul operands) or a write-only storage texture (their packing). */
export type TextureType = "texture_2d<f32>" | "texture_storage_2d<rgba32float, write>";
/** What a binding holds: a storage buffer array of this element type, or a texture. */
export type BindingType = StorageType | TextureType;
/** Type of a uniform (one 32-bit word each). */
export type UniformType = "u32" | "i32" | "f32";

/** Declared bindings: name → type, numbered 1, 2, … in this order. */
export type BindingDecls = Record<string, BindingType>;
/** Declared uniforms: name → type, in this order (at most 16). */
export type UniformDecls = Record<string, UniformType>;

/** A kernel as declared; see the module documentation. */
export interface KernelDecl<B extends BindingDecls, U extends UniformDecls> {
  /** The WGSL file (sections marked `//@kernel NAME`; the part before the first is shared). */
  source: string;
  /** Entry point, and the name of its section. */
  entry: string;
  /** Bindings by name, numbered in declaration order from 1. */
  bindings: B;
  /** Uniforms by name (`p.NAME` in WGSL). */
  uniforms: U;
  /** Compile-time constants: `const NAME: u32` and `//@REPEAT` counts. */
  consts?: Record<string, number>;
  /** Element type `T`: 1 for f32, 4 for vec4<f32>; only for width-generic kernels. */
  width?: 1 | 4;
}

/** A texture bound to a dispatch, with a stable id for the bind group cache. */
export interface TextureBinding {
  /** The view. */
  view: GPUTextureView;
  /** Stable id (part of the bind group cache key). */
  id: string;
}

/** The resources of one dispatch, by binding name: tensors (or null) and textures. */
export type Resources<B extends BindingDecls> = {
  [K in keyof B]: B[K] extends TextureType ? TextureBinding : GpuTensor | null;
};

/** The uniforms of one dispatch, by name. */
export type UniformValues<U extends UniformDecls> = { [K in keyof U]: number };

/** One declared binding. */
export interface BindingSlot {
  /** Name (in TypeScript and WGSL). */
  name: string;
  /** Type. */
  type: BindingType;
  /** Binding number (1, 2, …). */
  binding: number;
}

/** A compiled-ready kernel: generated WGSL plus what the context needs to dispatch it. */
export interface Kernel<
  B extends BindingDecls = BindingDecls,
  U extends UniformDecls = UniformDecls,
> {
  /** The declaration it was generated from. */
  readonly decl: KernelDecl<B, U>;
  /** Entry point. */
  readonly entry: string;
  /** Name in profiles and errors: the entry point, `_vec4` appended for width 4. */
  readonly label: string;
  /** The complete WGSL module. */
  readonly code: string;
  /** Bindings in binding order. */
  readonly slots: readonly BindingSlot[];
  /** Uniform names and types, in word order. */
  readonly uniforms: readonly (readonly [string, UniformType])[];
  /** Key of the bind group layout (kernels with equal keys share layouts and bind groups). */
  readonly layoutKey: string;
}

const MAX_UNIFORMS = 16;

/**
 * Generates a kernel from its declaration.
 *
 * @example
 * ```ts
 * import { kernel } from "./kernel.ts";
 * const k = kernel({
 *   source: "//@kernel twice\n@compute @workgroup_size(64)\n" +
 *     "fn twice(@builtin(global_invocation_id) g: vec3<u32>) {\n" +
 *     "  if (g.x < p.n) { y[g.x] = 2.0 * x[g.x]; }\n}\n",
 *   entry: "twice",
 *   bindings: { y: "f32", x: "f32" },
 *   uniforms: { n: "u32" },
 * });
 * console.log(k.code.includes("var<storage, read_write> x: array<f32>;")); // true
 * ```
 */
export function kernel<const B extends BindingDecls, const U extends UniformDecls>(
  decl: KernelDecl<B, U>,
): Kernel<B, U> {
  const names = [...Object.keys(decl.bindings), ...Object.keys(decl.uniforms)];
  const uniforms = Object.entries(decl.uniforms) as [string, UniformType][];
  if (uniforms.length > MAX_UNIFORMS) {
    throw new Error(`${decl.entry}: ${uniforms.length} uniforms (at most ${MAX_UNIFORMS})`);
  }
  if (new Set(names).size !== names.length) {
    throw new Error(`${decl.entry}: a name is declared twice in ${names.join(", ")}`);
  }
  const slots = Object.entries(decl.bindings).map(([name, type], i) => ({
    name,
    type,
    binding: i + 1,
  }));
  const header: string[] = [];
  if (uniforms.length > 0) {
    header.push(
      `struct Uniforms { ${uniforms.map(([n, t]) => `${n}: ${t}`).join(", ")} }`,
      "@group(0) @binding(0) var<uniform> p: Uniforms;",
    );
  }
  for (const s of slots) {
    const v = s.type.startsWith("texture")
      ? `var ${s.name}: ${s.type}`
      : `var<storage, read_write> ${s.name}: array<${s.type}>`;
    header.push(`@group(0) @binding(${s.binding}) ${v};`);
  }
  const consts = decl.consts ?? {};
  for (const [n, v] of Object.entries(consts)) {
    if (!Number.isInteger(v) || v < 0) throw new Error(`${decl.entry}: const ${n} = ${v}`);
    header.push(`const ${n}: u32 = ${v}u;`);
  }
  if (decl.width) header.push(WIDTH_PRELUDE[decl.width]);
  const body = expandRepeats(section(decl.source, decl.entry), consts);
  return {
    decl,
    entry: decl.entry,
    label: decl.width === 4 ? `${decl.entry}_vec4` : decl.entry,
    code: `// generated by kernel.ts: ${decl.entry}\n${header.join("\n")}\n\n${body}`,
    slots,
    uniforms,
    layoutKey: slots.map((s) => LAYOUT_CODE[s.type]).join(""),
  };
}

/** The same kernel with other constants or another width (a variant of one declaration). */
export function variant<B extends BindingDecls, U extends UniformDecls>(
  k: Kernel<B, U>,
  change: { consts?: Record<string, number>; width?: 1 | 4 },
): Kernel<B, U> {
  return kernel({ ...k.decl, ...change });
}

/** The scalar (width 1) and vec4 (width 4) forms of one width-generic declaration. */
export function widths<const B extends BindingDecls, const U extends UniformDecls>(
  decl: Omit<KernelDecl<B, U>, "width">,
): { 1: Kernel<B, U>; 4: Kernel<B, U> } {
  return { 1: kernel({ ...decl, width: 1 }), 4: kernel({ ...decl, width: 4 }) };
}

/** Bind group layout entry kinds: s storage buffer, t sampled texture, w storage texture. */
const LAYOUT_CODE: Record<BindingType, string> = {
  "f32": "s",
  "i32": "s",
  "vec4<f32>": "s",
  "T": "s",
  "texture_2d<f32>": "t",
  "texture_storage_2d<rgba32float, write>": "w",
};

const WIDTH_PRELUDE = {
  1: [
    "alias T = f32;",
    "const W: u32 = 1u;",
    "fn hsum(v: T) -> f32 { return v; }",
    "fn hmax(v: T) -> f32 { return v; }",
    "fn lane(v: T, i: u32) -> f32 { return v; }",
    "fn onehot(i: u32, t: i32) -> T { return select(0.0, 1.0, i32(i) == t); }",
  ].join("\n"),
  4: [
    "alias T = vec4<f32>;",
    "const W: u32 = 4u;",
    "fn hsum(v: T) -> f32 { return v.x + v.y + v.z + v.w; }",
    "fn hmax(v: T) -> f32 { return max(max(v.x, v.y), max(v.z, v.w)); }",
    "fn lane(v: T, i: u32) -> f32 { return v[i]; }",
    "fn onehot(i: u32, t: i32) -> T {",
    "  let e = vec4<i32>(0, 1, 2, 3) + vec4<i32>(i32(i * 4u));",
    "  return select(vec4<f32>(0.0), vec4<f32>(1.0), e == vec4<i32>(t));",
    "}",
  ].join("\n"),
};

/** The shared part of `source` (before the first marker) plus the section of `entry`. */
function section(source: string, entry: string): string {
  const parts = source.split(/^\/\/@kernel (\w+)[^\n]*$/m);
  // parts: [shared, name1, body1, name2, body2, …]
  for (let i = 1; i < parts.length; i += 2) {
    if (parts[i] === entry) return `${parts[0]}\n${parts[i + 1]}`;
  }
  throw new Error(`kernel: no section //@kernel ${entry} in its WGSL source`);
}
