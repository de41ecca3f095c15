/**
 * Building the native shim (`ffi/bentevi_native.c`) with the system C compiler.
 *
 * `deno task build:native` runs this file; the loader calls {@link buildNativeLibrary} on
 * first use when no up-to-date library exists and a compiler is present. The C source is
 * imported as text, so the same code builds the shim from a checkout, from a `deno compile`
 * binary or from a URL import (into a cache folder).
 *
 * @module
 */
import { dirname, join } from "node:path";
import source from "../../ffi/bentevi_native.c" with { type: "text" };
import header from "../../ffi/bentevi_native.h" with { type: "text" };
import kernels from "../../ffi/bentevi_kernels.c" with { type: "text" };
import { BenteviError } from "../errors.ts";

/** The library's file name (per platform). */
export const NATIVE_LIBRARY_NAME = Deno.build.os === "darwin"
  ? "libbentevi_native.dylib"
  : Deno.build.os === "windows"
  ? "bentevi_native.dll"
  : "libbentevi_native.so";

/**
 * Compiler flags (part of the build hash, so changing them rebuilds). No `-march`: the
 * compute kernels carry their own x86-64-v3 (AVX2, FMA) clones chosen at load time (`target_clones` in
 * `ffi/bentevi_kernels.c`), so the library runs on any x86-64. `-fno-math-errno` and
 * `-fno-trapping-math` let `sqrtf` and comparisons vectorise; IEEE results are unchanged.
 */
export const NATIVE_CFLAGS = [
  "-O3",
  "-shared",
  "-fPIC",
  "-pthread",
  "-fno-math-errno",
  "-fno-trapping-math",
];
/** Libraries linked (OpenBLAS is not among them: the kernels open it at run time). */
export const NATIVE_LIBS = ["-lbz2", "-lm", "-ldl"];

function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, "0");
}

/**
 * A short hash of the shim's source and build flags: a library built from other sources is
 * stale and gets rebuilt (it is stored in `<library>.hash` beside the library).
 */
export const NATIVE_SOURCE_HASH: string = fnv1a(
  [source, kernels, header, NATIVE_CFLAGS.join(" "), NATIVE_LIBS.join(" ")].join("\0"),
);

/** The compiler command: `$CC` or `cc`. */
export function compilerCommand(): string {
  try {
    return Deno.env.get("CC") || "cc";
  } catch {
    return "cc";
  }
}

/** Options for {@link buildNativeLibrary}. */
export interface BuildNativeOptions {
  /** Folder the library goes into (created if missing). */
  outDir: string;
  /** Compiler (default {@link compilerCommand}). */
  cc?: string;
}

/**
 * Compiles the shim into `outDir/<NATIVE_LIBRARY_NAME>` (atomically: temp name + rename) and
 * writes the source hash beside it. Returns the library path. Throws a {@link BenteviError}
 * with the compiler's first error line when the build fails.
 *
 * @example
 * ```ts ignore
 * import { buildNativeLibrary } from "./build.ts";
 * const lib = buildNativeLibrary({ outDir: "ffi/build" });
 * console.log(lib); // ffi/build/libbentevi_native.so
 * ```
 */
export function buildNativeLibrary(options: BuildNativeOptions): string {
  const cc = options.cc ?? compilerCommand();
  const outDir = options.outDir;
  Deno.mkdirSync(outDir, { recursive: true });
  const srcDir = Deno.makeTempDirSync({ dir: outDir, prefix: ".src-" });
  const libPath = join(outDir, NATIVE_LIBRARY_NAME);
  const tmpLib = join(srcDir, NATIVE_LIBRARY_NAME);
  try {
    Deno.writeTextFileSync(join(srcDir, "bentevi_native.c"), source);
    Deno.writeTextFileSync(join(srcDir, "bentevi_native.h"), header);
    Deno.writeTextFileSync(join(srcDir, "bentevi_kernels.c"), kernels);
    let out: Deno.CommandOutput;
    try {
      out = new Deno.Command(cc, {
        args: [
          ...NATIVE_CFLAGS,
          "-o",
          tmpLib,
          join(srcDir, "bentevi_native.c"),
          join(srcDir, "bentevi_kernels.c"),
          ...NATIVE_LIBS,
        ],
        stdout: "piped",
        stderr: "piped",
      }).outputSync();
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        throw new BenteviError(`C compiler "${cc}" not found (install gcc or set CC)`);
      }
      if (e instanceof Deno.errors.PermissionDenied) {
        throw new BenteviError(`running "${cc}" needs --allow-run`);
      }
      throw e;
    }
    if (!out.success) {
      const text = new TextDecoder().decode(out.stderr);
      const line = text.split("\n").find((l) => /error/i.test(l)) ?? text.split("\n")[0];
      throw new BenteviError(
        `building the native shim with "${cc}" failed: ${line.trim()}${
          /bzlib\.h|lbz2/.test(text) ? " (install libbz2-dev)" : ""
        }`,
      );
    }
    Deno.renameSync(tmpLib, libPath);
    Deno.writeTextFileSync(`${libPath}.hash`, NATIVE_SOURCE_HASH + "\n");
    return libPath;
  } finally {
    Deno.removeSync(srcDir, { recursive: true });
  }
}

/** Whether `libPath` exists and was built from the current sources. */
export function isNativeLibraryFresh(libPath: string): boolean {
  try {
    Deno.statSync(libPath);
    return Deno.readTextFileSync(`${libPath}.hash`).trim() === NATIVE_SOURCE_HASH;
  } catch {
    return false;
  }
}

/** The checkout's build folder (`ffi/build/`), or null when this module is not a local file. */
export function checkoutBuildDir(): string | null {
  const url = new URL("../../ffi/build/", import.meta.url);
  if (url.protocol !== "file:") return null;
  return dirname(join(decodeURIComponent(url.pathname), "x"));
}

if (import.meta.main) {
  const dir = Deno.args[0] ?? checkoutBuildDir();
  if (!dir) {
    console.error("bentevi: build:native must run from a local checkout (or pass a folder)");
    Deno.exit(1);
  }
  try {
    const lib = buildNativeLibrary({ outDir: dir });
    console.log(`built ${lib} (source hash ${NATIVE_SOURCE_HASH})`);
  } catch (e) {
    console.error(`bentevi: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
