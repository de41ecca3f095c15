/**
 * `bench <suite>`: runs one benchmark suite in-process and prints its figures (a table, or
 * one JSON line with `--json`). Each command group registers its suites here.
 *
 * @module
 */
import { type Command, Option } from "@commander-js/extra-typings";
import type { DeviceChoice } from "../backend/select.ts";
import { BenteviError } from "../errors.ts";
import { DEVICE_CHOICES, printJson, threadsOption } from "./common.ts";

/** What a suite returns: machine-readable figures and a human rendering of them. */
export interface BenchResult {
  /** Figures for `--json` (one JSON object). */
  json: Record<string, unknown>;
  /** The same figures for a person (a small table). */
  text: string;
}

/** A named benchmark suite runnable as `bench NAME [inputs…]`. */
export interface BenchSuite {
  /** Suite name, as typed after `bench`. */
  name: string;
  /** One line for `bench --help`. */
  description: string;
  /** The suite runs on a device: `bench NAME --device D` is accepted and passed on. */
  takesDevice?: boolean;
  /** Runs the suite on `inputs` (suite-specific defaults when empty). */
  run(inputs: string[], options: { json: boolean; device?: DeviceChoice }): Promise<BenchResult>;
}

const suites = new Map<string, BenchSuite>();

/**
 * Adds a suite to the `bench` command.
 *
 * @example
 * ```ts
 * import { registerBenchSuite } from "./bench.ts";
 * registerBenchSuite({
 *   name: "noop",
 *   description: "does nothing",
 *   run: () => Promise.resolve({ json: {}, text: "nothing" }),
 * });
 * ```
 */
export function registerBenchSuite(suite: BenchSuite): void {
  suites.set(suite.name, suite);
}

/** Registers the `bench` command (call after every group registered its suites). */
export function registerBench(program: Command): void {
  program
    .command("bench")
    .description(
      "run one benchmark suite and print its figures (`deno task bench` runs all bench/ files)",
    )
    .argument("<suite>", "suite name (see the list below)")
    .argument("[inputs...]", "input files (suite-specific defaults when omitted)")
    .addOption(
      new Option(
        "--device <device>",
        "compute device, for the suites that take it (kernels; default: auto)",
      ).choices(DEVICE_CHOICES),
    )
    .addOption(threadsOption())
    .option("--json", "print one JSON object")
    .addHelpText("after", () => {
      const lines = [...suites.values()].map((s) => `  ${s.name.padEnd(12)} ${s.description}`);
      return `\nSuites:\n${lines.join("\n") || "  (none registered)"}`;
    })
    .action(async (suiteName, inputs, options) => {
      const suite = suites.get(suiteName);
      if (!suite) {
        throw new BenteviError(
          `unknown bench suite "${suiteName}"; available: ${[...suites.keys()].join(", ")}`,
        );
      }
      if (options.device !== undefined && !suite.takesDevice) {
        throw new BenteviError(`bench ${suite.name} takes no --device option`);
      }
      const result = await suite.run(inputs, { json: !!options.json, device: options.device });
      if (options.json) printJson(result.json);
      else console.log(result.text);
    });
}
