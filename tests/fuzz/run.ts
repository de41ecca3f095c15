/**
 * `deno task fuzz`: fuzzes every file format Bentevi reads, each in its own child process
 * (`child.ts`) so that a crash in native code or a hang is caught and pinned to a mutant,
 * and prints the outcome table. Exit status 1 when any outcome is a bug (`vague`, `other`,
 * `slow`, `memory`, `crash`, `hang`); `known` outcomes (see `known.ts`) are listed, not failed.
 *
 * ```sh
 * deno task fuzz                              # 10,000 mutants per format, seed 1
 * deno task fuzz --count 500 --seed 7 --format tokenizer.json --format jsonl
 * deno task fuzz --jobs 1 --report out/fuzz/report.json --keep out/fuzz/mutants
 * ```
 *
 * Permissions: `--allow-read --allow-write --allow-env --allow-ffi --allow-run` (the children
 * get the same; `--allow-run` also runs `bzip2` to make the bz2 seeds); never `--allow-net`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { FORMATS } from "./formats/mod.ts";
import type { FuzzSummary, Outcome } from "./harness.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    format: { type: "string", multiple: true },
    seed: { type: "string", default: "1" },
    count: { type: "string", default: "10000" },
    jobs: { type: "string", default: "2" },
    "limit-ms": { type: "string", default: "2000" },
    "hang-s": { type: "string", default: "60" },
    report: { type: "string", default: "out/fuzz/report.json" },
    keep: { type: "string", default: "out/fuzz/mutants" },
  },
});

const CHILD = join(dirname(fileURLToPath(import.meta.url)), "child.ts");
const PERMS = ["--allow-read", "--allow-write", "--allow-env", "--allow-ffi", "--allow-run"];

/** A crash or hang of the child, pinned to its mutant. */
interface Incident {
  kind: "crash" | "hang";
  i: number;
  message: string;
}

interface FormatResult {
  format: string;
  /** Outcomes by kind, counted as the child reports them (a killed child's too). */
  counts: Record<string, number>;
  maxMs: number;
  summaries: FuzzSummary[];
  outcomes: Outcome[];
  incidents: Incident[];
  /** Wall seconds, children's start-up included. */
  seconds: number;
}

async function runChild(
  format: string,
  seed: number,
  start: number,
  count: number,
  result: FormatResult,
): Promise<number> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...PERMS,
      "--v8-flags=--expose-gc,--max-old-space-size=4096",
      CHILD,
      "--format",
      format,
      "--seed",
      String(seed),
      "--start",
      String(start),
      "--count",
      String(count),
      "--limit-ms",
      values["limit-ms"],
      "--keep",
      values.keep,
    ],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  let at = start - 1, last = Date.now(), done = false, hung = false;
  const watchdog = setInterval(() => {
    // a child's start (type-checking, seeds) on a busy machine gets longer than a mutant
    const limit = (at < start ? 300 : Number(values["hang-s"])) * 1000;
    if (!done && Date.now() - last > limit) {
      hung = true;
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
    }
  }, 1000);
  const stderr = new Response(child.stderr).text();
  let buf = "";
  const dec = new TextDecoder();
  for await (const chunk of child.stdout) {
    buf += dec.decode(chunk, { stream: true });
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const text = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      last = Date.now();
      let msg: {
        at?: number;
        done?: number;
        kind?: string;
        ms?: number;
        outcome?: Outcome;
        summary?: FuzzSummary;
      };
      try {
        msg = JSON.parse(text);
      } catch {
        continue; // stray output of the code under test
      }
      if (msg.at !== undefined) at = msg.at;
      const kind = msg.kind ?? msg.outcome?.kind;
      if (kind) {
        result.counts[kind] = (result.counts[kind] ?? 0) + 1;
        result.maxMs = Math.max(result.maxMs, msg.ms ?? msg.outcome?.ms ?? 0);
      }
      if (msg.outcome) result.outcomes.push(msg.outcome);
      if (msg.summary) result.summaries.push(msg.summary);
    }
  }
  const status = await child.status;
  done = true;
  clearInterval(watchdog);
  const err = (await stderr).trim().split("\n").slice(-3).join(" | ");
  if (status.success && !hung) return start + count;
  result.incidents.push({
    kind: hung ? "hang" : "crash",
    i: at,
    message: hung
      ? `no progress for ${values["hang-s"]} s at mutant ${at}`
      : `exit ${status.code}${status.signal ? ` (${status.signal})` : ""} at mutant ${at}: ${err}`,
  });
  return at + 1; // go on after the mutant that killed it
}

async function fuzzOne(name: string): Promise<FormatResult> {
  const seed = Number(values.seed), total = Number(values.count);
  const result: FormatResult = {
    format: name,
    counts: {},
    maxMs: 0,
    summaries: [],
    outcomes: [],
    incidents: [],
    seconds: 0,
  };
  const t = performance.now();
  let next = 0;
  while (next < total && result.incidents.length < 10) {
    next = await runChild(name, seed, next, total - next, result);
  }
  result.seconds = (performance.now() - t) / 1000;
  return result;
}

const wanted = values.format?.length
  ? FORMATS.filter((f) => values.format!.includes(f.name))
  : FORMATS;
if (!wanted.length) {
  console.error(`no such format; known: ${FORMATS.map((f) => f.name).join(", ")}`);
  Deno.exit(2);
}
const t0 = performance.now();
const queue = [...wanted];
const results: FormatResult[] = [];
await Promise.all(
  Array.from({ length: Math.max(1, Number(values.jobs)) }, async () => {
    for (let f = queue.shift(); f; f = queue.shift()) {
      const r = await fuzzOne(f.name);
      results.push(r);
      const c = sum(r);
      console.error(`${f.name}: ${JSON.stringify(c)}${r.incidents.length ? " INCIDENTS" : ""}`);
    }
  }),
);
results.sort((a, b) =>
  wanted.findIndex((f) => f.name === a.format) - wanted.findIndex((f) => f.name === b.format)
);

function sum(r: FormatResult) {
  const c: Record<string, number> = { ...r.counts };
  c.crash = r.incidents.filter((x) => x.kind === "crash").length;
  c.hang = r.incidents.filter((x) => x.kind === "hang").length;
  c.mutants = Object.values(r.counts).reduce((n, v) => n + v, 0) + c.crash + c.hang;
  return c;
}

const cols = [
  "mutants",
  "ok",
  "user",
  "known",
  "vague",
  "other",
  "slow",
  "memory",
  "crash",
  "hang",
];
const rows = results.map((r) => {
  const c = sum(r);
  const seconds = r.seconds;
  const maxMs = r.maxMs;
  const rss = Math.max(0, ...r.summaries.map((s) => s.peakRssGrowth)) / 2 ** 20;
  const heap = Math.max(0, ...r.summaries.map((s) => s.heapGrowth)) / 2 ** 20;
  return {
    format: r.format,
    ...Object.fromEntries(cols.map((k) => [k, c[k] ?? 0])),
    seconds,
    maxMs,
    rss,
    heap,
  };
});
const header = ["format", ...cols, "time s", "max ms", "peak RSS +MiB", "heap +MiB"];
const lines = [
  `| ${header.join(" | ")} |`,
  `|${header.map(() => "---").join("|")}|`,
  ...rows.map((r) =>
    `| ${r.format} | ${
      cols.map((k) => (r as unknown as Record<string, number>)[k]).join(" | ")
    } | ${r.seconds.toFixed(1)} | ${r.maxMs.toFixed(0)} | ${r.rss.toFixed(0)} | ${
      r.heap.toFixed(1)
    } |`
  ),
];
console.log(lines.join("\n"));
const bad = results.flatMap((r) => [
  ...r.outcomes.filter((o) => o.kind !== "known").map((o) =>
    `${r.format} #${o.i} ${o.kind}: ${o.seed}/${o.file}: ${o.message}`
  ),
  ...r.incidents.map((x) => `${r.format} #${x.i} ${x.kind}: ${x.message}`),
]);
const known = results.flatMap((r) =>
  r.outcomes.filter((o) => o.kind === "known").map((o) => `${r.format} #${o.i}: ${o.message}`)
);
if (known.length) {
  console.log(`\nknown issues (${known.length}; see tests/fuzz/known.ts), first 10:`);
  for (const k of known.slice(0, 10)) console.log("  " + k);
}
if (bad.length) {
  console.log(`\nfailures (${bad.length}), first 40:`);
  for (const b of bad.slice(0, 40)) console.log("  " + b);
}
console.log(
  `\n${results.length} formats, seed ${values.seed}, ${
    ((performance.now() - t0) / 1000).toFixed(0)
  } s wall`,
);
await Deno.mkdir(dirname(values.report), { recursive: true });
await Deno.writeTextFile(
  values.report,
  JSON.stringify({ seed: Number(values.seed), rows, results }, null, 1) + "\n",
);
Deno.exit(bad.length ? 1 : 0);
