/**
 * `deno task abort-check`: the evidence for the abort at process exit (issue 13, item 12).
 * Runs the smallest known reproducer (`bench/_exit_race.ts`: Workers that use WebGPU end while
 * the main thread exits) many times in child processes, alternating the control — EGL allowed
 * (`DENO_WEBGPU_BACKEND=vulkan,gl`, i.e. Bentevi's Vulkan-only workaround off) — with the real
 * configuration (the variable unset: Bentevi asks for Vulkan only), and counts the runs that
 * did not exit 0 (glibc's `corrupted …`/`double free` aborts, exit 134, and crashes, 139).
 *
 * ```sh
 * deno task abort-check                          # 100 runs of each, 4 Workers per run
 * deno task abort-check --runs 300 --workers 8 --json
 * deno task abort-check --runs 100 --no-control  # only the workaround's runs
 * deno task abort-check --baseline               # also the same Workers without WebGPU
 * deno task abort-check --deno-test --workers 8   # 8 test modules under `deno test` instead
 * ```
 *
 * Exit 1 when a run with the workaround failed, or when its runs loaded EGL; exit 0 otherwise
 * (the control's aborts are the expected outcome and only show that the reproducer reproduces:
 * at 4 Workers about 5–8 % of its runs abort on a 2-core Linux VM with Mesa). Takes about 1.5 s
 * per run. The task runs it under `nice -n 10` (its children inherit that).
 *
 * `--deno-test` runs, instead of Workers, `deno test` on K generated test modules (in a temporary
 * folder, removed after) that use WebGPU: how the full test suite met the abort (about 5 s a run).
 *
 * Permissions: `--allow-run --allow-read --allow-write --allow-env --allow-sys=loadavg` for this
 * script (`write` for `--deno-test`'s temporary modules); each child runs with
 * `-A`, because Deno gates reading `/proc/PID/maps` (to tell whether EGL was loaded) behind
 * `--allow-all`. Linux only (elsewhere it says so and exits 0).
 *
 * @module
 */

interface Side {
  label: string;
  backend: string | undefined;
  gpu: boolean;
  runs: number;
  failures: { run: number; code: number; signal: string | null; message: string }[];
  eglLoaded: number;
  noAdapter: number;
}

const CHILD = new URL("./_exit_race.ts", import.meta.url).pathname;

/**
 * `--deno-test`: writes `k` test modules into `dir` (for each side: with or without WebGPU) that
 * each get an adapter the way Bentevi does, make a device and a buffer; `deno test` runs every
 * module's runtime on its own thread, which is how the full suite met the abort. The last module
 * prints whether EGL is loaded.
 */
function writeTestModules(dir: string, k: number, gpu: boolean): void {
  const adapterUrl = new URL("../src/backend/gpu_adapter.ts", import.meta.url).href;
  for (let i = 0; i < k; i++) {
    const report = i === k - 1
      ? `const maps = Deno.readTextFileSync(\`/proc/\${Deno.pid}/maps\`);
  console.log("ABORT_CHECK " + JSON.stringify({ adapter: adapter !== null || ${!gpu}, egl: /libEGL/.test(maps) }));`
      : "";
    Deno.writeTextFileSync(
      `${dir}/gpu_${i}.test.ts`,
      `import { requestGpuAdapter } from ${JSON.stringify(adapterUrl)};
Deno.test("module ${i}", async () => {
  const adapter: GPUAdapter | null = ${gpu ? "await requestGpuAdapter()" : "null"};
  if (adapter) {
    const device = await adapter.requestDevice();
    device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE }).destroy();
    device.destroy();
  }
  ${report}
});
`,
    );
  }
}

async function once(
  side: Side,
  workers: number,
  run: number,
  testDir: string | null,
): Promise<void> {
  const env = Deno.env.toObject();
  delete env.DENO_WEBGPU_BACKEND;
  if (side.backend !== undefined) env.DENO_WEBGPU_BACKEND = side.backend;
  const args = testDir
    ? ["test", "-A", `${testDir}/${side.gpu ? "gpu" : "nogpu"}`]
    : ["run", "-A", CHILD, String(workers), ...(side.gpu ? [] : ["--no-gpu"])];
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  side.runs++;
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  const stdout = testDir
    ? (lines.find((l) => l.includes("ABORT_CHECK "))?.replace(/^.*ABORT_CHECK /, "") ?? "")
    : lines.at(-1) ?? "";
  try {
    const r = JSON.parse(stdout);
    if (r.egl) side.eglLoaded++;
    if (!r.adapter) side.noAdapter++;
  } catch { /* it died before its line */ }
  if (out.code !== 0 || out.signal !== null) {
    const stderr = new TextDecoder().decode(out.stderr).trim().split("\n");
    side.failures.push({
      run,
      code: out.code,
      signal: out.signal,
      message: stderr.find((l) => /corrupt|free|malloc|abort|fault/i.test(l)) ?? stderr.at(-1) ??
        "",
    });
  }
}

if (import.meta.main) {
  const args = [...Deno.args];
  const take = (flag: string, dflt: number): number => {
    const i = args.indexOf(flag);
    if (i < 0) return dflt;
    const v = Number(args[i + 1]);
    args.splice(i, 2);
    return v;
  };
  const runs = take("--runs", 100);
  const workers = take("--workers", 4);
  const json = args.includes("--json");
  const control = !args.includes("--no-control");
  const baseline = args.includes("--baseline");
  const denoTest = args.includes("--deno-test");
  const unknown = args.filter((a) =>
    !["--json", "--no-control", "--baseline", "--deno-test"].includes(a)
  );
  if (
    !(Number.isInteger(runs) && runs > 0) || !(Number.isInteger(workers) && workers > 0) ||
    unknown.length
  ) {
    console.error(
      "usage: abort_check.ts [--runs N] [--workers K] [--no-control] [--baseline] [--deno-test] [--json]",
    );
    Deno.exit(2);
  }
  if (Deno.build.os !== "linux") {
    console.log("abort-check: the abort at exit is a Linux (libglvnd) issue; nothing to do here");
    Deno.exit(0);
  }
  const fresh = (label: string, backend: string | undefined, gpu = true): Side => ({
    label,
    backend,
    gpu,
    runs: 0,
    failures: [],
    eglLoaded: 0,
    noAdapter: 0,
  });
  const sides = [
    ...(control ? [fresh("control (DENO_WEBGPU_BACKEND=vulkan,gl: EGL loaded)", "vulkan,gl")] : []),
    ...(baseline ? [fresh("no-webgpu (the same Workers without WebGPU)", undefined, false)] : []),
    fresh("workaround (DENO_WEBGPU_BACKEND unset: Vulkan only)", undefined),
  ];
  const load = () => Deno.loadavg().map((x) => x.toFixed(2)).join(" ");
  const loadBefore = load();
  const t0 = performance.now();
  let testDir: string | null = null;
  if (denoTest) {
    testDir = Deno.makeTempDirSync({ prefix: "bentevi-abort-check-" });
    for (const gpu of [true, false]) {
      Deno.mkdirSync(`${testDir}/${gpu ? "gpu" : "nogpu"}`);
      writeTestModules(`${testDir}/${gpu ? "gpu" : "nogpu"}`, workers, gpu);
    }
  }
  for (let r = 1; r <= runs; r++) {
    for (const side of sides) await once(side, workers, r, testDir); // alternated: A, B, A, B, …
    if (!json && r % 10 === 0) {
      console.log(
        `${r}/${runs}: ` +
          sides.map((s) => `${s.label.split(" ")[0]} ${s.failures.length} failed`).join(", "),
      );
    }
  }
  if (testDir) Deno.removeSync(testDir, { recursive: true });
  const result = {
    mode: denoTest ? `deno test, ${workers} modules` : `deno run, ${workers} Workers`,
    runs,
    workers,
    seconds: Number(((performance.now() - t0) / 1000).toFixed(1)),
    load_before: loadBefore,
    load_after: load(),
    sides: sides.map((s) => ({
      label: s.label,
      runs: s.runs,
      failed: s.failures.length,
      egl_loaded: s.eglLoaded,
      no_adapter: s.noAdapter,
      failures: s.failures,
    })),
  };
  const ours = sides[sides.length - 1];
  if (json) console.log(JSON.stringify(result));
  else {
    console.log(
      `${result.mode}; load average before ${result.load_before}, after ${result.load_after}; ${result.seconds} s`,
    );
    for (const s of result.sides) {
      console.log(
        `${s.label}: ${s.failed} of ${s.runs} runs failed; EGL loaded in ${s.egl_loaded}; no adapter in ${s.no_adapter}`,
      );
      for (const f of s.failures) {
        console.log(
          `  run ${f.run}: exit ${f.code}${f.signal ? ` (${f.signal})` : ""} ${f.message}`,
        );
      }
    }
  }
  if (ours.failures.length || ours.eglLoaded) Deno.exit(1);
}
