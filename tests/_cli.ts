// Running the CLI from tests: as a subprocess with exactly the permissions a command documents
// (so a command that needs more fails the test), or in-process through `main()` for speed.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { main } from "../cli.ts";

/** The path of cli.ts. */
export const CLI: string = fileURLToPath(new URL("../cli.ts", import.meta.url));

/** Every permission any command needs (what `deno task cli` grants). */
export const ALL_PERMISSIONS: readonly string[] = [
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-ffi",
  "--allow-run",
];

/** What a CLI run printed and returned. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `deno run PERMISSIONS cli.ts ARGS` (stdin optional), without colours. */
export async function runCli(
  args: readonly string[],
  options: {
    permissions?: readonly string[];
    stdin?: string;
    cwd?: string;
    env?: Record<string, string>;
  } = {},
): Promise<CliResult> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...(options.permissions ?? ALL_PERMISSIONS), CLI, ...args],
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    cwd: options.cwd,
    env: { NO_COLOR: "1", ...options.env },
  }).spawn();
  if (options.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(options.stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Runs the CLI in this process (`main()` returns the exit code), capturing console output. */
export async function runCliInProcess(...args: string[]): Promise<CliResult> {
  const out: string[] = [], err: string[] = [];
  const { log, error } = console;
  console.log = (...a: unknown[]) => out.push(a.join(" "));
  console.error = (...a: unknown[]) => err.push(a.join(" "));
  try {
    const code = await main(args);
    return { code, stdout: out.join("\n"), stderr: err.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}

/**
 * The command failed with exactly one `bentevi: …` line matching `pattern` and no stack trace;
 * with `only`, that line is all of stderr.
 */
export function assertOneLineError(
  r: { code: number; stderr: string },
  pattern: RegExp,
  options: { only?: boolean } = {},
): void {
  assert.notEqual(r.code, 0);
  const all = r.stderr.trim().split("\n");
  const lines = all.filter((l) => l.startsWith("bentevi: "));
  assert.equal(lines.length, 1, r.stderr);
  if (options.only) assert.equal(all.length, 1, `one line, got: ${r.stderr}`);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(r.stderr, /at .*\.ts:\d+/); // no stack trace
}
