/**
 * Loading the native shim with `Deno.dlopen`, building it first when needed.
 *
 * Where the library is looked for, in order:
 * 1. `$BENTEVI_NATIVE_LIB` (an explicit path);
 * 2. a local checkout's `ffi/build/` (built there by `deno task build:native`, or on first use
 *    when a C compiler is present) — this is also where a `deno compile` binary finds it when
 *    built with `--include ffi/build/`; an embedded library is copied to the cache folder
 *    first, since a library cannot be loaded from inside the executable;
 * 3. the cache folder `$XDG_CACHE_HOME/bentevi/native-<hash>/` (default `~/.cache/…`), where
 *    the shim is built from its embedded source when Bentevi is imported from a URL.
 *
 * When none works (no `--allow-ffi`, no compiler, no libbz2…) {@link loadNative} returns null
 * and prints a one-line notice once; callers then use the pure TypeScript fallbacks.
 * `BENTEVI_NATIVE=0` disables the shim without a notice.
 *
 * @module
 */
import { join } from "node:path";
import {
  buildNativeLibrary,
  checkoutBuildDir,
  compilerCommand,
  isNativeLibraryFresh,
  NATIVE_LIBRARY_NAME,
  NATIVE_SOURCE_HASH,
} from "./build.ts";

/** ABI version the TypeScript side expects (`BN_ABI_VERSION` in the header). */
export const NATIVE_ABI_VERSION = 10;

/** The FFI signatures of the shim. */
export const NATIVE_SYMBOLS = {
  bn_abi_version: { parameters: [], result: "i32" },
  bn_mmap_file: {
    parameters: ["buffer", "i32", "buffer", "buffer", "buffer"],
    result: "pointer",
  },
  bn_munmap: { parameters: ["pointer", "u64"], result: "i32" },
  bn_bz2_new: { parameters: [], result: "pointer" },
  bn_bz2_feed: { parameters: ["pointer", "buffer", "u32"], result: "i32" },
  bn_bz2_pull: { parameters: ["pointer", "buffer", "u32"], result: "i64" },
  /** The same function, run on a background thread (decompression overlaps JavaScript work). */
  bn_bz2_pull_async: {
    name: "bn_bz2_pull",
    parameters: ["pointer", "buffer", "u32"],
    result: "i64",
    nonblocking: true,
  },
  bn_bz2_finish: { parameters: ["pointer"], result: "i32" },
  bn_bz2_position: { parameters: ["pointer"], result: "u64" },
  bn_bz2_streams: { parameters: ["pointer"], result: "u64" },
  bn_bz2_free: { parameters: ["pointer"], result: "void" },
  bn_thread_cpu_ns: { parameters: [], result: "i64" },
  bn_children_cpu_ns: { parameters: [], result: "i64" },
  // The native backend's kernels (ffi/bentevi_kernels.c; used by src/backend/native/).
  bn_blas_load: { parameters: ["buffer"], result: "i32" },
  bn_blas_message: { parameters: ["buffer", "u32"], result: "i32" },
  bn_set_threads: { parameters: ["i32"], result: "i32" },
  bn_get_threads: { parameters: [], result: "i32" },
  bn_sgemm: {
    parameters: [
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
    ],
    result: "i32",
  },
  bn_quant_path: { parameters: ["i32"], result: "i32" },
  bn_matmul_quant: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "i32", "i32", "i32", "i32", "i32"],
    result: "i32",
  },
  bn_quant_repack: { parameters: ["buffer", "buffer", "i32", "i32"], result: "i32" },
  bn_quant_unpack: { parameters: ["buffer", "buffer", "i32", "i32"], result: "i32" },
  bn_pin_loaded: { parameters: ["buffer"], result: "i32" },
  bn_simd_clone: { parameters: [], result: "i32" },
  bn_cpu_level: { parameters: [], result: "i32" },
  bn_add: { parameters: ["buffer", "buffer", "buffer", "i32"], result: "void" },
  bn_add_into: { parameters: ["buffer", "buffer", "i32", "f64"], result: "void" },
  bn_sum_squares: { parameters: ["buffer", "i32"], result: "f64" },
  bn_sum_rows: { parameters: ["buffer", "buffer", "i32", "i32", "i32"], result: "void" },
  bn_gelu: { parameters: ["buffer", "buffer", "i32"], result: "void" },
  bn_gelu_backward: { parameters: ["buffer", "buffer", "buffer", "i32"], result: "void" },
  bn_swiglu: { parameters: ["buffer", "buffer", "buffer", "i32"], result: "void" },
  bn_swiglu_backward: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "buffer", "i32"],
    result: "void",
  },
  bn_layernorm: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "buffer", "buffer", "i32", "i32", "f32"],
    result: "void",
  },
  bn_layernorm_backward: {
    parameters: [
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "i32",
      "i32",
    ],
    result: "void",
  },
  bn_rmsnorm: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "i32", "i32", "f32"],
    result: "void",
  },
  bn_rmsnorm_backward: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "buffer", "buffer", "i32", "i32"],
    result: "void",
  },
  bn_rope: {
    parameters: [
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
    ],
    result: "void",
  },
  bn_embedding: {
    parameters: ["buffer", "buffer", "i32", "buffer", "i32", "buffer", "i32", "i32", "i32"],
    result: "i32",
  },
  bn_embedding_backward: {
    parameters: ["buffer", "i32", "buffer", "buffer", "buffer", "i32", "i32", "i32"],
    result: "i32",
  },
  bn_softmax_xent: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "i32", "i32", "f32"],
    result: "i32",
  },
  bn_adamw: {
    parameters: [
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "i32",
      "f64",
      "f64",
      "f64",
      "f64",
      "f64",
      "f64",
      "f64",
      "f64",
    ],
    result: "void",
  },
  bn_attention: {
    parameters: ["buffer", "buffer", "buffer", "i32", "i32", "i32", "i32", "i32"],
    result: "void",
  },
  bn_attention_backward: {
    parameters: [
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
    ],
    result: "void",
  },
  bn_attention_cached: {
    parameters: [
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
    ],
    result: "void",
  },
  bn_wkv: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "buffer", "buffer", "i32", "i32", "i32"],
    result: "void",
  },
  bn_wkv_backward: {
    parameters: [
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "i32",
      "i32",
      "i32",
    ],
    result: "void",
  },
  bn_wkv7: {
    parameters: [
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "i32",
      "i32",
      "i32",
      "i32",
    ],
    result: "i32",
  },
  bn_wkv7_backward: {
    parameters: [
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "i32",
      "i32",
      "i32",
      "i32",
    ],
    result: "i32",
  },
  bn_bench_sgemm: { parameters: ["i32", "i32", "i32", "i32"], result: "f64" },
} as const;

/** The loaded shim's functions. */
export type NativeSymbols = Deno.DynamicLibrary<typeof NATIVE_SYMBOLS>["symbols"];

/** A loaded shim. */
export interface NativeLibrary {
  /** Where it was loaded from. */
  readonly path: string;
  /** Its functions. */
  readonly symbols: NativeSymbols;
}

/** Error codes returned by the shim (see ffi/bentevi_native.h). */
export const NativeError = {
  OPEN: -1,
  MMAP: -2,
  MEMORY: -3,
  DATA: -4,
  MAGIC: -5,
  TRUNCATED: -6,
  STATE: -7,
  EMPTY: -8,
} as const;

let cached: NativeLibrary | null | undefined;
let cachedReason = "";
let noticePrinted = false;

function granted(desc: Deno.PermissionDescriptor): boolean {
  try {
    return Deno.permissions.querySync(desc).state === "granted";
  } catch {
    return false;
  }
}

function env(name: string): string | undefined {
  if (!granted({ name: "env", variable: name })) return undefined;
  return Deno.env.get(name);
}

function tryOpen(path: string): NativeLibrary {
  const lib = Deno.dlopen(path, NATIVE_SYMBOLS);
  const abi = lib.symbols.bn_abi_version();
  if (abi !== NATIVE_ABI_VERSION) {
    lib.close();
    throw new Error(`${path} has ABI ${abi}, expected ${NATIVE_ABI_VERSION}`);
  }
  return { path, symbols: lib.symbols };
}

/** The cache folder used when the checkout's `ffi/build/` cannot be used. */
export function nativeCacheDir(): string | null {
  const xdg = env("XDG_CACHE_HOME");
  const home = env("HOME") ?? env("USERPROFILE");
  const base = xdg || (home ? join(home, ".cache") : null);
  return base ? join(base, "bentevi", `native-${NATIVE_SOURCE_HASH}`) : null;
}

function canBuildIn(dir: string): boolean {
  return granted({ name: "run", command: compilerCommand() }) &&
    granted({ name: "write", path: dir });
}

function locateAndLoad(): NativeLibrary {
  if (!granted({ name: "ffi" })) throw new Error("needs --allow-ffi");
  const errors: string[] = [];
  const explicit = env("BENTEVI_NATIVE_LIB");
  if (explicit) return tryOpen(explicit);

  const local = checkoutBuildDir();
  if (local) {
    const lib = join(local, NATIVE_LIBRARY_NAME);
    if (isNativeLibraryFresh(lib)) {
      try {
        return tryOpen(lib);
      } catch (e) {
        // e.g. embedded in a `deno compile` binary: copied to the cache below.
        errors.push((e as Error).message);
      }
    } else if (canBuildIn(local)) {
      try {
        return tryOpen(buildNativeLibrary({ outDir: local }));
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
  }

  const cache = nativeCacheDir();
  if (cache) {
    const lib = join(cache, NATIVE_LIBRARY_NAME);
    if (isNativeLibraryFresh(lib)) return tryOpen(lib);
    if (
      local && isNativeLibraryFresh(join(local, NATIVE_LIBRARY_NAME)) &&
      granted({ name: "write", path: cache })
    ) {
      // An embedded prebuilt library (deno compile --include ffi/build/): copy it out.
      try {
        Deno.mkdirSync(cache, { recursive: true });
        const tmp = `${lib}.${crypto.randomUUID()}.tmp`;
        Deno.writeFileSync(tmp, Deno.readFileSync(join(local, NATIVE_LIBRARY_NAME)));
        Deno.renameSync(tmp, lib);
        Deno.writeTextFileSync(`${lib}.hash`, NATIVE_SOURCE_HASH + "\n");
        return tryOpen(lib);
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
    if (canBuildIn(cache)) {
      try {
        return tryOpen(buildNativeLibrary({ outDir: cache }));
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
  }
  if (errors.length === 0) {
    errors.push("not built yet, and building it needs --allow-run and --allow-write");
  }
  throw new Error(errors.join("; ") || "no library found");
}

/**
 * Returns the native shim, loading (and if needed building) it on first call, or null when it
 * is unavailable — then a one-line notice is printed to stderr once (unless `quiet` or
 * `BENTEVI_NATIVE=0`).
 *
 * @example
 * ```ts
 * import { loadNative } from "./loader.ts";
 * const lib = loadNative({ quiet: true });
 * console.log(lib ? `native shim at ${lib.path}` : "using the pure fallbacks");
 * ```
 */
export function loadNative(options: { quiet?: boolean } = {}): NativeLibrary | null {
  if (cached === undefined) {
    if (env("BENTEVI_NATIVE") === "0") {
      cached = null;
      cachedReason = "disabled by BENTEVI_NATIVE=0";
      noticePrinted = true;
    } else {
      try {
        cached = locateAndLoad();
      } catch (e) {
        cached = null;
        cachedReason = (e as Error).message.split("\n")[0];
      }
    }
  }
  if (cached === null && !noticePrinted && !options.quiet) {
    noticePrinted = true;
    console.error(
      `bentevi: native shim unavailable (${cachedReason}); using the pure TypeScript fallbacks`,
    );
  }
  return cached;
}

/** Why {@link loadNative} returned null ("" when the shim is loaded or not tried yet). */
export function nativeUnavailableReason(): string {
  return cachedReason;
}
