/**
 * Opening the native backend's pieces: the shim (`ffi/`, built on first use) and a CBLAS
 * library (OpenBLAS), which the shim opens with `dlopen` at run time — the shim never links
 * it, so a machine without OpenBLAS still gets the shim's other functions (mmap, bzip2) and a
 * one-line reason why the native backend is unavailable. Also the thread count: `--threads`,
 * `BENTEVI_THREADS`, or the machine's cores.
 *
 * @module
 */
import { BenteviError } from "../../errors.ts";
import { loadNative, type NativeSymbols, nativeUnavailableReason } from "../../native/loader.ts";

/** The shim's functions with a CBLAS library opened behind them. */
export interface NativeCompute {
  /** The shim's functions (`bn_sgemm`, `bn_attention`, …). */
  readonly symbols: NativeSymbols;
  /** What was opened: the library name and its configuration (OpenBLAS's `get_config`). */
  readonly blas: string;
}

/** Library names tried in order when `BENTEVI_BLAS` does not name one. */
export const BLAS_CANDIDATES: readonly string[] = Deno.build.os === "darwin"
  ? [
    "libopenblas.dylib",
    "/opt/homebrew/opt/openblas/lib/libopenblas.dylib",
    "/usr/local/opt/openblas/lib/libopenblas.dylib",
  ]
  : Deno.build.os === "windows"
  ? ["libopenblas.dll", "openblas.dll"]
  : ["libopenblas.so.0", "libopenblas.so"];

const HOW_TO_GET_OPENBLAS = Deno.build.os === "darwin"
  ? "brew install openblas"
  : Deno.build.os === "linux"
  ? "apt-get install -y libopenblas0 (or set BENTEVI_BLAS to a CBLAS library)"
  : "install OpenBLAS (or set BENTEVI_BLAS to a CBLAS library)";

function env(name: string): string | undefined {
  try {
    if (Deno.permissions.querySync({ name: "env", variable: name }).state !== "granted") {
      return undefined;
    }
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

const encoder = new TextEncoder();

function message(symbols: NativeSymbols): string {
  const buf = new Uint8Array(512);
  const n = symbols.bn_blas_message(buf, buf.length);
  return new TextDecoder().decode(buf.subarray(0, Math.max(0, n))).trim();
}

let loaded: NativeCompute | string | undefined;

/**
 * The shim with OpenBLAS opened, or a one-line reason why not (no `--allow-ffi`, no C
 * compiler to build the shim, no OpenBLAS…). Tried once per process.
 *
 * @example
 * ```ts
 * import { loadNativeCompute } from "./load.ts";
 * const native = loadNativeCompute();
 * console.log(typeof native === "string" ? `unavailable: ${native}` : native.blas);
 * ```
 */
export function loadNativeCompute(): NativeCompute | string {
  if (loaded !== undefined) return loaded;
  const lib = loadNative({ quiet: true });
  if (!lib) {
    loaded = `the native shim is unavailable (${nativeUnavailableReason()})`;
    return loaded;
  }
  const symbols = lib.symbols;
  const explicit = env("BENTEVI_BLAS");
  const candidates = explicit ? [explicit] : BLAS_CANDIDATES;
  const errors: string[] = [];
  for (const name of candidates) {
    const rc = symbols.bn_blas_load(encoder.encode(name + "\0"));
    if (rc === 0) {
      loaded = { symbols, blas: `${name.replace(/^.*\//, "")}: ${message(symbols)}` };
      return loaded;
    }
    errors.push(message(symbols));
  }
  loaded = `OpenBLAS could not be loaded (${errors[0]}); ${HOW_TO_GET_OPENBLAS}`;
  return loaded;
}

/** The machine's logical cores (`navigator.hardwareConcurrency`, at least 1). */
export function machineCores(): number {
  return Math.max(1, navigator.hardwareConcurrency || 1);
}

let defaultThreads: number | undefined;

/**
 * Parses and checks a thread count: an integer from 1 to the machine's cores. `source` names
 * where it came from in the message (`--threads`, `BENTEVI_THREADS`).
 *
 * @example
 * ```ts
 * import { parseThreads } from "./load.ts";
 * console.log(parseThreads("1", "--threads")); // 1
 * ```
 */
export function parseThreads(value: string | number, source: string): number {
  const cores = machineCores();
  const text = String(value).trim();
  const n = /^[0-9]+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > cores) {
    throw new BenteviError(
      `${source} ${text}: the thread count must be an integer from 1 to ${cores} ` +
        `(this machine's cores)`,
    );
  }
  return n;
}

/**
 * Sets the thread count native backends use when none is given (the CLI's `--threads`);
 * `undefined` goes back to `BENTEVI_THREADS` or the machine's cores.
 */
export function setDefaultThreads(n: number | undefined): void {
  defaultThreads = n === undefined ? undefined : parseThreads(n, "--threads");
}

/**
 * The thread count a native backend uses: `given`, else {@link setDefaultThreads}'s, else
 * `BENTEVI_THREADS`, else the machine's cores. A bad value is a {@link BenteviError}.
 */
export function resolveThreads(given?: number): number {
  if (given !== undefined) return parseThreads(given, "threads");
  if (defaultThreads !== undefined) return defaultThreads;
  const fromEnv = env("BENTEVI_THREADS");
  if (fromEnv !== undefined && fromEnv !== "") return parseThreads(fromEnv, "BENTEVI_THREADS");
  return machineCores();
}
