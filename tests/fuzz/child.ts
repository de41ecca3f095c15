/**
 * Runs one format's mutants in this process and reports on stdout, one JSON object a line:
 * (With `--write DIR`, writes mutant `--start` there instead and prints its path.)
 * `{"at": i}` before mutant `i` (so the parent can pin a crash or a hang), then its outcome
 * (`{"done": i, "kind": "ok" | "user", "ms"}`, or the whole outcome for any other kind), and a
 * final `{"summary": …}`.
 *
 * ```sh
 * deno run --allow-read --allow-write --allow-env --allow-ffi --allow-run \
 *   --v8-flags=--expose-gc tests/fuzz/child.ts --format tokenizer.json --seed 1 --count 100
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { fuzzFormat, writeMutant } from "./harness.ts";
import { formatByName } from "./formats/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    format: { type: "string" },
    seed: { type: "string", default: "1" },
    count: { type: "string", default: "10000" },
    start: { type: "string", default: "0" },
    "limit-ms": { type: "string", default: "2000" },
    keep: { type: "string" },
    write: { type: "string" },
  },
});
const format = formatByName(values.format ?? "");
if (!format) {
  console.error(`unknown format ${values.format}`);
  Deno.exit(2);
}
if (values.write) {
  // reproduce: write mutant --start under --write, print the mutated file's path
  console.log(await writeMutant(format, Number(values.seed), Number(values.start), values.write));
  Deno.exit(0);
}
const line = (o: unknown) => console.log(JSON.stringify(o));
const summary = await fuzzFormat(format, {
  seed: Number(values.seed),
  count: Number(values.count),
  start: Number(values.start),
  limitMs: Number(values["limit-ms"]),
  keepDir: values.keep,
  onStart: (i) => line({ at: i }),
  onOutcome: (o) => {
    if (o.kind !== "ok" && o.kind !== "user") line({ outcome: o });
    else line({ done: o.i, kind: o.kind, ms: Math.round(o.ms) });
  },
});
line({ summary });
