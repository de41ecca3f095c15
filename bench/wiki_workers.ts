/**
 * `wiki --workers 1` against `--workers 2` (or any list) on one multistream dump, in ONE run,
 * alternating (1, 2, 1, 2, …) so that load from other processes falls on both sides alike.
 * Each run is a fresh `bentevi wiki` child process; the figures are its wall time and its
 * user+system CPU time (all its threads: main, Workers, the bzip2 thread, V8's helpers), and
 * the outputs of all runs are checked to be byte-identical (exit 1 if not).
 *
 * ```sh
 * deno run -A bench/wiki_workers.ts /tmp/ptlike.xml.bz2 --rounds 5 [--workers 1,2] [--shard-mb 8] [--json]
 * ```
 *
 * Permissions: `-A`, because Deno gates `/proc/loadavg` and other processes' `/proc/PID/…`
 * behind `--allow-all` (with the five usual flags it stops at the first `/proc` read). The
 * `bentevi wiki` children it runs get only `--allow-read --allow-write --allow-env
 * --allow-ffi --allow-run`.
 *
 * `--baseline DIR` adds the same runs of another checkout's `cli.ts` (e.g. one made with
 * `git worktree add /tmp/base main`), alternated with this one's: before and after in one run.
 * While a child runs, its threads' CPU times are sampled from `/proc/PID/task/TID/stat` (Linux;
 * every 50 ms, so a thread that ends loses at most that much): the main thread (`deno`), the
 * Workers (`worker-N`), the runtime's blocking pool (`tokio-runtime-w`, where the one-reader
 * path decompresses bzip2) and V8's helpers (`V8 DefaultWorke`, GC and compilers). The busiest
 * thread bounds the wall time on free cores from below; with the machine shared this is the
 * figure that load disturbs least.
 * Build the dump with `bench/make_multistream.ts --ptwiki 60 …`. The CPU time needs the native
 * shim (`bn_children_cpu_ns`); without it it reads NaN. `BENTEVI_CPU_PROF=DIR` adds
 * `--cpu-prof --cpu-prof-dir=DIR` to every child (V8 profiles of the main thread).
 *
 * @module
 */
import { loadNative } from "../src/native/loader.ts";

const PERMS = ["--allow-read", "--allow-write", "--allow-env", "--allow-ffi", "--allow-run"];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function sameTree(a: string, b: string): Promise<boolean> {
  const names = (d: string) => [...Deno.readDirSync(d)].map((e) => e.name).sort();
  const na = names(a);
  if (na.join("/") !== names(b).join("/")) return false;
  for (const n of na) {
    const [x, y] = [await Deno.readFile(`${a}/${n}`), await Deno.readFile(`${b}/${n}`)];
    if (x.length !== y.length || x.some((v, i) => v !== y[i])) return false;
  }
  return true;
}

interface Config {
  label: string;
  cli: string;
  workers: number;
  wall: number[];
  cpu: number[];
  /** Per run: CPU seconds by thread group (main, workers, bzip2/runtime pool, V8 helpers). */
  threads: Record<string, number>[];
}

const TICK = 100; // USER_HZ on Linux

/** Samples the CPU time of each thread of `pid` until `done` settles. */
async function sampleThreads(pid: number, done: Promise<unknown>): Promise<Record<string, number>> {
  const last = new Map<string, { name: string; ticks: number }>();
  let finished = false;
  done.finally(() => (finished = true));
  while (!finished) {
    try {
      for (const e of Deno.readDirSync(`/proc/${pid}/task`)) {
        try {
          const stat = Deno.readTextFileSync(`/proc/${pid}/task/${e.name}/stat`);
          const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
          const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
          last.set(e.name, { name, ticks: Number(f[11]) + Number(f[12]) });
        } catch { /* the thread ended */ }
      }
    } catch { /* the process ended */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  const groups: Record<string, number> = {};
  for (const { name, ticks } of last.values()) {
    const g = name === "deno"
      ? "main"
      : name.startsWith("worker-")
      ? name
      : name.startsWith("tokio")
      ? "runtime pool (bzip2)"
      : name.startsWith("V8")
      ? "V8 helpers"
      : "other";
    groups[g] = (groups[g] ?? 0) + ticks / TICK;
  }
  return groups;
}

if (import.meta.main) {
  const args = [...Deno.args];
  const take = (flag: string): string | undefined => {
    const i = args.indexOf(flag);
    if (i < 0) return undefined;
    const v = args[i + 1];
    args.splice(i, 2);
    return v;
  };
  const rounds = Number(take("--rounds") ?? 3);
  const workerList = (take("--workers") ?? "1,2").split(",").map(Number);
  const shardMb = take("--shard-mb");
  const baseline = take("--baseline");
  const json = args.includes("--json");
  const dump = args.find((a) => !a.startsWith("--"));
  if (!dump || !(rounds > 0) || workerList.some((w) => !(w >= 1))) {
    console.error(
      "usage: wiki_workers.ts DUMP.xml.bz2 [--rounds N] [--workers 1,2] [--shard-mb N] [--baseline DIR] [--json]",
    );
    Deno.exit(2);
  }
  const trees: [string, string][] = [
    ...(baseline ? [["baseline", `${baseline}/cli.ts`] as [string, string]] : []),
    [baseline ? "this" : "", new URL("../cli.ts", import.meta.url).pathname],
  ];
  const configs: Config[] = [];
  for (const [label, cli] of trees) {
    for (const w of workerList) {
      configs.push({
        label: `${label ? label + " " : ""}workers ${w}`,
        cli,
        workers: w,
        wall: [],
        cpu: [],
        threads: [],
      });
    }
  }
  const lib = loadNative();
  const cpuNs = () => (lib ? Number(lib.symbols.bn_children_cpu_ns()) : NaN);
  const prof = Deno.env.get("BENTEVI_CPU_PROF");
  const tmp = await Deno.makeTempDir({ prefix: "bentevi-wiki-workers-" });
  const load = async () =>
    (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
  const loadBefore = await load();
  let reference = "";
  let identical = true;
  try {
    for (let r = 0; r < rounds; r++) {
      for (const [i, c] of configs.entries()) {
        const out = `${tmp}/r${r}c${i}`;
        const cmd = [
          "run",
          ...PERMS,
          ...(prof
            ? [
              "--cpu-prof",
              `--cpu-prof-dir=${prof}`,
              `--cpu-prof-name=c${i}-w${c.workers}-r${r}.cpuprofile`,
            ]
            : []),
          c.cli,
          "wiki",
          dump,
          "-o",
          out,
          "--workers",
          String(c.workers),
          ...(shardMb ? ["--shard-mb", shardMb] : []),
          "--json",
        ];
        const c0 = cpuNs();
        const t0 = performance.now();
        const child = new Deno.Command(Deno.execPath(), { args: cmd, stdout: "piped" }).spawn();
        const output = child.output();
        const threads = await sampleThreads(child.pid, output);
        const res = await output;
        const seconds = (performance.now() - t0) / 1000;
        const cpuS = (cpuNs() - c0) / 1e9;
        if (!res.success) throw new Error(`${c.label} failed (exit ${res.code})`);
        c.wall.push(seconds);
        c.cpu.push(cpuS);
        c.threads.push(threads);
        if (!json) {
          const t = Object.entries(threads).sort().map(([k, v]) => `${k} ${v.toFixed(2)}`);
          console.log(
            `round ${r + 1} ${c.label}: ${seconds.toFixed(2)} s wall, ${cpuS.toFixed(2)} s CPU (${
              t.join(", ")
            })`,
          );
        }
        if (!reference) reference = out;
        else {
          if (!(await sameTree(reference, out))) {
            identical = false;
            console.error(`${c.label} (round ${r + 1}): output differs from the first run's`);
          }
          await Deno.remove(out, { recursive: true });
        }
      }
    }
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
  const base = configs[0];
  const result = {
    dump,
    bytes: Deno.statSync(dump).size,
    rounds,
    load_before: loadBefore,
    load_after: await load(),
    identical_outputs: identical,
    configs: configs.map((c) => ({
      label: c.label,
      workers: c.workers,
      wall_s: c.wall.map((x) => Number(x.toFixed(3))),
      cpu_s: c.cpu.map((x) => Number(x.toFixed(3))),
      median_wall_s: Number(median(c.wall).toFixed(3)),
      median_cpu_s: Number(median(c.cpu).toFixed(3)),
      median_thread_cpu_s: Object.fromEntries(
        [...new Set(c.threads.flatMap((t) => Object.keys(t)))].sort().map((k) => [
          k,
          Number(median(c.threads.map((t) => t[k] ?? 0)).toFixed(2)),
        ]),
      ),
      speedup_vs_first: Number((median(base.wall) / median(c.wall)).toFixed(3)),
    })),
  };
  if (json) console.log(JSON.stringify(result));
  else {
    console.log(`load average before ${result.load_before}, after ${result.load_after}`);
    for (const c of result.configs) {
      const t = Object.entries(c.median_thread_cpu_s).map(([k, v]) => `${k} ${v}`);
      console.log(
        `${c.label}: median ${c.median_wall_s} s wall, ${c.median_cpu_s} s CPU (user+sys); ` +
          `×${c.speedup_vs_first} vs ${base.label}; by thread: ${t.join(", ")}`,
      );
    }
    console.log(`outputs byte-identical: ${identical}`);
  }
  if (!identical) Deno.exit(1);
}
