/**
 * The `bz2` benchmark: decompression throughput (MB/s of decompressed output) of the native
 * shim, the pure fallback and, side by side when present, the `bzip2 -dc` command. Wall-clock
 * rates are reported, and — when the shim is loaded — CPU-time rates too (thread CPU time for
 * the in-process decoders, children's CPU time for `bzip2 -dc`), which a machine shared with
 * other jobs disturbs far less.
 *
 * @module
 */
import { BenteviError, fsError } from "../errors.ts";
import { createBz2Decompressor } from "./bz2.ts";
import { loadNative, type NativeLibrary } from "./loader.ts";

/** Figures of {@link benchBz2}. */
export interface Bz2BenchResult {
  file: string;
  compressedBytes: number;
  decompressedBytes: number;
  /** Native shim, wall clock (null when it cannot be loaded). */
  native_mb_per_s: number | null;
  /** Pure JavaScript fallback, wall clock. */
  fallback_mb_per_s: number;
  /** `bzip2 -dc FILE > /dev/null`, wall clock (null when not installed or not allowed). */
  bzip2_cli_mb_per_s: number | null;
  /** native / bzip2 -dc, wall clock. */
  native_vs_bzip2: number | null;
  /** The same three per CPU second (null without the shim, which provides the clocks). */
  native_cpu_mb_per_s: number | null;
  fallback_cpu_mb_per_s: number | null;
  bzip2_cli_cpu_mb_per_s: number | null;
  /** native / bzip2 -dc, CPU time. */
  native_vs_bzip2_cpu: number | null;
  runs: number;
}

interface Timing {
  wall: number[];
  cpu: number[];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function decompressAll(data: Uint8Array, native: boolean, name: string): number {
  const bz = createBz2Decompressor({ name, native });
  let total = 0;
  const step = 256 << 10;
  for (let i = 0; i < data.length; i += step) {
    for (const c of bz.push(data.subarray(i, i + step))) total += c.length;
  }
  for (const c of bz.end()) total += c.length;
  return total;
}

function cliAllowed(): boolean {
  try {
    return Deno.permissions.querySync({ name: "run", command: "bzip2" }).state === "granted";
  } catch {
    return false;
  }
}

async function timeCli(file: string, lib: NativeLibrary | null, into: Timing): Promise<boolean> {
  try {
    const c0 = lib ? Number(lib.symbols.bn_children_cpu_ns()) : 0;
    const t = performance.now();
    const out = await new Deno.Command("bzip2", {
      args: ["-dc", file],
      stdout: "null",
      stderr: "null",
    }).output();
    if (!out.success) return false;
    into.wall.push((performance.now() - t) / 1000);
    if (lib) into.cpu.push((Number(lib.symbols.bn_children_cpu_ns()) - c0) / 1e9);
    return true;
  } catch {
    return false;
  }
}

/**
 * Measures bzip2 decompression of `file` (median of `runs`, contenders interleaved; the file
 * is read into memory first, so disk speed is left out of the in-process figures).
 *
 * @example
 * ```ts ignore
 * import { benchBz2 } from "./bench.ts";
 * console.log(await benchBz2("dump.xml.bz2"));
 * ```
 */
export async function benchBz2(file: string, runs = 3): Promise<Bz2BenchResult> {
  let data: Uint8Array;
  try {
    data = await Deno.readFile(file);
  } catch (e) {
    throw fsError(e, file);
  }
  if (data.length === 0) throw new BenteviError(`${file}: empty file`);
  const lib = loadNative();
  const cpuNow = () => (lib ? Number(lib.symbols.bn_thread_cpu_ns()) / 1e9 : 0);
  let size = 0;
  const native: Timing = { wall: [], cpu: [] };
  const fallback: Timing = { wall: [], cpu: [] };
  const cli: Timing = { wall: [], cpu: [] };
  let useCli = cliAllowed();
  const timeInProcess = (useNative: boolean, into: Timing) => {
    const c = cpuNow();
    const t = performance.now();
    size = decompressAll(data, useNative, file);
    into.wall.push((performance.now() - t) / 1000);
    into.cpu.push(cpuNow() - c);
  };
  for (let r = 0; r < runs; r++) {
    if (lib) timeInProcess(true, native);
    if (useCli) useCli = await timeCli(file, lib, cli);
    if (r === 0 || fallback.wall.reduce((a, b) => a + b, 0) < 20) timeInProcess(false, fallback);
  }
  const rate = (xs: number[]) => (xs.length ? Number((size / 1e6 / median(xs)).toFixed(2)) : null);
  const ratio = (a: number | null, b: number | null) =>
    a !== null && b !== null ? Number((a / b).toFixed(3)) : null;
  const nativeRate = rate(native.wall);
  const cliRate = rate(cli.wall);
  const nativeCpu = lib ? rate(native.cpu) : null;
  const cliCpu = lib ? rate(cli.cpu) : null;
  return {
    file,
    compressedBytes: data.length,
    decompressedBytes: size,
    native_mb_per_s: nativeRate,
    fallback_mb_per_s: rate(fallback.wall)!,
    bzip2_cli_mb_per_s: cliRate,
    native_vs_bzip2: ratio(nativeRate, cliRate),
    native_cpu_mb_per_s: nativeCpu,
    fallback_cpu_mb_per_s: lib ? rate(fallback.cpu) : null,
    bzip2_cli_cpu_mb_per_s: cliCpu,
    native_vs_bzip2_cpu: ratio(nativeCpu, cliCpu),
    runs,
  };
}
