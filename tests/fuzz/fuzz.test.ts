/**
 * The short seeded slice of the fuzz (`deno task fuzz` runs 10,000 mutants per format): 200
 * mutants per format (50 for the run directory, whose every mutant resumes a run), each
 * outcome success or a one-line BenteviError naming the file. FFI formats run in a child
 * process, as in the full fuzz. No time limit here (no timing thresholds in tests): a slow
 * mutant is the full fuzz's to find. Known issues: `known.ts`.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { BenteviError } from "../../src/errors.ts";
import { FAILING_KINDS, type FuzzFormat, fuzzFormat, type FuzzSummary } from "./harness.ts";
import { FORMATS } from "./formats/mod.ts";

const SEED = 13;
const COUNT: Record<string, number> = { "run-dir": 50 };
const CHILD = fileURLToPath(new URL("./child.ts", import.meta.url));

function failures(s: FuzzSummary): string {
  return s.failures.map((o) => `#${o.i} ${o.kind} ${o.seed}/${o.file}: ${o.message}`).join("\n");
}

async function inChild(format: string, count: number): Promise<FuzzSummary> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-ffi",
      "--allow-run",
      CHILD,
      "--format",
      format,
      "--seed",
      String(SEED),
      "--count",
      String(count),
      "--limit-ms",
      "Infinity",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  assert.ok(
    out.success,
    `${format}: the child process died (${out.code} ${out.signal ?? ""}) after ${lines.at(-1)}: ${
      new TextDecoder().decode(out.stderr).slice(-2000)
    }`,
  );
  return JSON.parse(lines.at(-1)!).summary;
}

for (const format of FORMATS) {
  Deno.test(`fuzz slice: ${format.name}`, async () => {
    const count = COUNT[format.name] ?? 200;
    const s = format.ffi
      ? await inChild(format.name, count)
      : await fuzzFormat(format, { seed: SEED, count, limitMs: Infinity });
    assert.equal(s.mutants, count);
    for (const kind of FAILING_KINDS) {
      assert.equal(s.counts[kind], 0, `${format.name}: ${kind} outcomes\n${failures(s)}`);
    }
    assert.ok(
      s.counts.user > 0 && s.counts.ok > 0,
      `mutants both pass and fail: ${JSON.stringify(s.counts)}`,
    );
  });
}

Deno.test("fuzz harness: sorts outcomes — user errors must name the file, other throws are bugs", async () => {
  const enc = new TextEncoder();
  let n = 0;
  const fake: FuzzFormat = {
    name: "fake",
    seeds: () => Promise.resolve([{ label: "s", files: { "a.json": enc.encode('{"a":[1,2]}') } }]),
    run(_root, file) {
      const k = n++ % 4;
      if (k === 0) return Promise.resolve();
      if (k === 1) throw new BenteviError(`${file}: bad`);
      if (k === 2) throw new BenteviError("bad, but which file?");
      throw new TypeError("x is undefined");
    },
  };
  const s = await fuzzFormat(fake, { seed: 1, count: 8, limitMs: Infinity });
  assert.deepEqual(
    [s.counts.ok, s.counts.user, s.counts.vague, s.counts.other],
    [2, 2, 2, 2],
  );
  assert.match(s.failures.find((o) => o.kind === "other")!.message!, /TypeError: x is undefined/);
});
