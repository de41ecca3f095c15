/**
 * The fuzzing harness: a format module gives valid seed files (generated in code) and a `run`
 * that reads a (mutated) copy the way Bentevi's commands do; the harness makes seeded
 * mutants, runs them, and sorts each outcome:
 *
 * - `ok`: read without error;
 * - `user`: a one-line {@link BenteviError} naming the file (or, for a directory format, a
 *   path inside the mutant) — what a user must get for a bad file;
 * - `vague`: a BenteviError that names no file or spans several lines;
 * - `other`: any other exception (a bug);
 * - `slow`: one run took longer than `limitMs` (a couple of seconds);
 * - `memory`: while it ran, the process's peak RSS rose more than `memoryBoundBytes` over its
 *   level before it (a size or count was believed and allocated).
 *
 * Crashes and hangs cannot be caught in-process: `run.ts` runs each format in a child process
 * (`child.ts`) and watches it. Outcomes matching {@link KNOWN_ISSUES} are counted as `known`.
 *
 * @module
 */
import { join } from "node:path";
import { BenteviError } from "../../src/errors.ts";
import { Xoshiro128 } from "../../src/random.ts";
import {
  below,
  mutateBytes,
  mutateJsonBytes,
  mutateJsonLines,
  mutateMarkup,
  type Rng,
  truncate,
} from "./mutate.ts";
import { KNOWN_ISSUES } from "./known.ts";

/**
 * Thrown by a format's `run` when a mutant hits a listed known issue that would otherwise
 * cost minutes (see `known.ts`): counted as `known`, with this message.
 */
export class KnownIssueError extends Error {
  /** @param message what was met, and who is fixing it */
  constructor(message: string) {
    super(message);
    this.name = "KnownIssueError";
  }
}

/** A set of valid files, relative paths to contents. */
export interface Seed {
  /** A label for reports. */
  label: string;
  /** The files, written under the mutant's directory. */
  files: Record<string, Uint8Array>;
  /** Files that may be mutated (default: all). */
  mutable?: string[];
}

/** One fuzzed file format. */
export interface FuzzFormat {
  /** Short name (`tokenizer.json`, `bz2-native`…). */
  name: string;
  /** Runs native code through FFI: only ever fuzzed in a child process. */
  ffi?: boolean;
  /**
   * What an error must name: `file` (the mutated file's path) or `tree` (the mutated file or a
   * directory holding it — for formats read as a directory, like a checkpoint).
   */
  names?: "file" | "tree";
  /** Paths outside the mutant an error may name instead (e.g. the data file a run.json names). */
  alsoNamed?: string[];
  /** Builds the valid seeds (once per process); `work` is a scratch directory. */
  seeds(work: string): Promise<Seed[]>;
  /** Structure-aware mutation of `file` (its relative path); default by extension. */
  mutate?(rng: Rng, bytes: Uint8Array, file: string): Uint8Array;
  /** Reads the mutant in `root` as Bentevi does; `file` is the absolute path of the mutated file. */
  run(root: string, file: string): Promise<void>;
}

/** Outcome kinds. */
export type OutcomeKind = "ok" | "user" | "vague" | "other" | "slow" | "memory" | "known";

/** Kinds that fail the fuzz. */
export const FAILING_KINDS: readonly OutcomeKind[] = ["vague", "other", "slow", "memory"];

/** One mutant's outcome. */
export interface Outcome {
  /** Mutant index. */
  i: number;
  /** Kind. */
  kind: OutcomeKind;
  /** Error text (for errors), or why it is slow / large. */
  message?: string;
  /** Seed label and mutated file. */
  seed: string;
  /** Relative path of the mutated file. */
  file: string;
  /** Milliseconds. */
  ms: number;
}

/** Options of {@link fuzzFormat}. */
export interface FuzzOptions {
  /** Base seed. */
  seed: number;
  /** Mutants to run. */
  count: number;
  /** First mutant index (default 0). */
  start?: number;
  /** A run over this many milliseconds is `slow` (default 2000). */
  limitMs?: number;
  /** Peak RSS growth allowed during one mutant (default 768 MiB). */
  memoryBoundBytes?: number;
  /** Called before each mutant (the child reports it so a crash can be pinned). */
  onStart?: (i: number) => void;
  /** Called with each outcome. */
  onOutcome?: (o: Outcome) => void;
  /** Keep failing mutants' files here (first few per kind). */
  keepDir?: string;
}

/** Counts and figures of one format's fuzzing. */
export interface FuzzSummary {
  /** Format name. */
  format: string;
  /** Base seed. */
  seed: number;
  /** Mutants run. */
  mutants: number;
  /** Outcomes by kind. */
  counts: Record<OutcomeKind, number>;
  /** Up to 20 failing outcomes (and 20 known ones). */
  failures: Outcome[];
  /** Up to 20 known-issue outcomes. */
  known: Outcome[];
  /** Wall seconds. */
  seconds: number;
  /** Slowest mutant, ms. */
  maxMs: number;
  /** Largest peak-RSS growth of one mutant over the level before the first, bytes. */
  peakRssGrowth: number;
  /** Heap used after the last batch minus after the first (after GC when available), bytes. */
  heapGrowth: number;
}

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** The generator of mutant `i` of `format` under `seed` (each mutant reproducible alone). */
export function mutantRng(format: string, seed: number, i: number): Xoshiro128 {
  return new Xoshiro128(fnv1a(`${format}:${seed}:${i}`));
}

/** Default structure-aware mutation by file extension. */
export function mutateByExtension(rng: Rng, bytes: Uint8Array, file: string): Uint8Array {
  if (/\.json$/i.test(file)) return mutateJsonBytes(rng, bytes);
  if (/\.(jsonl|ndjson)$/i.test(file)) return mutateJsonLines(rng, bytes);
  if (/\.xml$/i.test(file)) return mutateMarkup(rng, bytes);
  return mutateBytes(rng, bytes);
}

/** Draws the mutated file and its new bytes: structured edits mostly, raw bytes and cuts too. */
export function makeMutant(
  format: FuzzFormat,
  seeds: Seed[],
  rng: Rng,
): { seed: Seed; file: string; bytes: Uint8Array } {
  const seed = seeds[below(rng, seeds.length)];
  const names = seed.mutable ?? Object.keys(seed.files);
  const file = names[below(rng, names.length)];
  let bytes = seed.files[file];
  const rounds = rng.next() < 0.2 ? 2 : 1;
  for (let r = 0; r < rounds; r++) {
    const x = rng.next();
    if (x < 0.15) bytes = truncate(rng, bytes);
    else if (x < 0.4) bytes = mutateBytes(rng, bytes);
    else bytes = (format.mutate ?? mutateByExtension)(rng, bytes, file);
  }
  return { seed, file, bytes };
}

/**
 * Writes mutant `i` of `format` (all its files) under `dir` without running it, to reproduce
 * a finding: returns the mutated file's path.
 */
export async function writeMutant(
  format: FuzzFormat,
  seed: number,
  i: number,
  dir: string,
): Promise<string> {
  const seeds = await format.seeds(join(dir, "..", `${format.name}-seeds`));
  const m = makeMutant(format, seeds, mutantRng(format.name, seed, i));
  await writeTree(dir, { ...m.seed.files, [m.file]: m.bytes });
  return join(dir, m.file);
}

/**
 * Restarts the peak-RSS count (Linux: writing 5 to `/proc/self/clear_refs` resets `VmHWM` to
 * the current RSS), so each mutant's peak is its own; a no-op elsewhere.
 */
export function resetPeakRss(): void {
  try {
    Deno.writeTextFileSync("/proc/self/clear_refs", "5");
  } catch { /* not Linux, or not allowed: the peak stays cumulative */ }
}

/** Peak resident set size (Linux `VmHWM`), or the current RSS elsewhere. */
export function peakRss(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"));
    if (m) return Number(m[1]) * 1024;
  } catch { /* not Linux */ }
  return Deno.memoryUsage().rss;
}

function heapAfterGc(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  return Deno.memoryUsage().heapUsed;
}

/** Whether `message` names `file` (or, for `tree` formats, a path inside `root`). */
export function namesFile(
  message: string,
  root: string,
  file: string,
  mode: "file" | "tree",
): boolean {
  if (message.includes(file)) return true;
  if (mode === "tree") return message.includes(root);
  return false;
}

function knownIssue(format: string, kind: OutcomeKind, message: string): boolean {
  return KNOWN_ISSUES.some((k) =>
    k.format === format && (k.kinds as readonly OutcomeKind[]).includes(kind) &&
    k.match.test(message)
  );
}

async function writeTree(root: string, files: Record<string, Uint8Array>): Promise<void> {
  for (const [rel, bytes] of Object.entries(files)) {
    const path = join(root, rel);
    await Deno.mkdir(join(path, ".."), { recursive: true });
    await Deno.writeFile(path, bytes);
  }
}

/**
 * Builds the seeds of `format` and runs `count` mutants of them, sorting every outcome.
 *
 * @example
 * ```ts ignore
 * import { fuzzFormat } from "./harness.ts";
 * import { FORMATS } from "./formats/mod.ts";
 * const s = await fuzzFormat(FORMATS[0], { seed: 1, count: 50 });
 * console.log(s.counts);
 * ```
 */
export async function fuzzFormat(format: FuzzFormat, o: FuzzOptions): Promise<FuzzSummary> {
  const limitMs = o.limitMs ?? 2000;
  const bound = o.memoryBoundBytes ?? 768 * 2 ** 20;
  const work = await Deno.makeTempDir({ prefix: "bentevi-fuzz-" });
  const counts: Record<OutcomeKind, number> = {
    ok: 0,
    user: 0,
    vague: 0,
    other: 0,
    slow: 0,
    memory: 0,
    known: 0,
  };
  const failures: Outcome[] = [], known: Outcome[] = [];
  const kept: Partial<Record<OutcomeKind, number>> = {};
  let maxMs = 0;
  const t0 = performance.now();
  try {
    const seeds = await format.seeds(join(work, "seeds"));
    const rssBase = peakRss();
    let heapFirst = -1, heapLast = 0, peakGrowth = 0;
    const start = o.start ?? 0;
    for (let i = start; i < start + o.count; i++) {
      const rng = mutantRng(format.name, o.seed, i);
      const m = makeMutant(format, seeds, rng);
      const root = join(work, `m${i}`);
      await writeTree(root, { ...m.seed.files, [m.file]: m.bytes });
      const file = join(root, m.file);
      o.onStart?.(i);
      resetPeakRss();
      const rssBefore = Deno.memoryUsage().rss;
      const before = performance.now();
      let kind: OutcomeKind = "ok";
      let message: string | undefined;
      try {
        await format.run(root, file);
      } catch (e) {
        if (e instanceof KnownIssueError) {
          kind = "known";
          message = e.message;
        } else if (e instanceof BenteviError) {
          message = e.message;
          const named = namesFile(e.message, root, file, format.names ?? "file") ||
            (format.alsoNamed ?? []).some((p) => e.message.includes(p));
          kind = named && !e.message.includes("\n") ? "user" : "vague";
        } else {
          kind = "other";
          const err = e instanceof Error ? e : new Error(String(e));
          const frame = (err.stack ?? "").split("\n").find((l) => l.includes("/src/"))?.trim();
          message = `${err.name}: ${err.message}${frame ? ` (${frame})` : ""}`;
        }
      }
      const ms = performance.now() - before;
      maxMs = Math.max(maxMs, ms);
      if (ms > limitMs) {
        message = `took ${ms.toFixed(0)} ms (${kind}${message ? `: ${message}` : ""})`;
        kind = "slow";
      }
      // this mutant's own peak over the process's level before it (or before the first)
      const grown = peakRss() - Math.max(rssBase, rssBefore);
      peakGrowth = Math.max(peakGrowth, grown);
      if (grown > bound) {
        message = `peak RSS grew ${(grown / 2 ** 20).toFixed(0)} MiB (${kind}${
          message ? `: ${message}` : ""
        })`;
        kind = "memory";
      }
      if (kind !== "ok" && kind !== "user" && knownIssue(format.name, kind, message ?? "")) {
        kind = "known";
      }
      counts[kind]++;
      const outcome: Outcome = { i, kind, message, seed: m.seed.label, file: m.file, ms };
      o.onOutcome?.(outcome);
      if (FAILING_KINDS.includes(kind)) {
        if (failures.length < 20) failures.push(outcome);
        if (o.keepDir && (kept[kind] ?? 0) < 5) {
          kept[kind] = (kept[kind] ?? 0) + 1;
          const dest = join(o.keepDir, format.name, `${kind}-${i}`);
          await writeTree(dest, { [m.file]: m.bytes });
          await Deno.writeTextFile(join(dest, "outcome.json"), JSON.stringify(outcome, null, 2));
        }
      } else if (kind === "known" && known.length < 20) known.push(outcome);
      await Deno.remove(root, { recursive: true }).catch(() => {});
      if ((i - start) % 500 === 499 || i === start + o.count - 1) {
        const h = heapAfterGc();
        if (heapFirst < 0) heapFirst = h;
        heapLast = h;
      }
    }
    return {
      format: format.name,
      seed: o.seed,
      mutants: o.count,
      counts,
      failures,
      known,
      seconds: (performance.now() - t0) / 1000,
      maxMs,
      peakRssGrowth: peakGrowth,
      heapGrowth: heapFirst < 0 ? 0 : heapLast - heapFirst,
    };
  } finally {
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}
