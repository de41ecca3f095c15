/**
 * `deno task compile`: builds one self-contained `bentevi` executable with `deno compile`.
 * WGSL kernels are embedded through their text imports; the native shim's C source (and the
 * library, when built) are embedded with `--include`.
 *
 * `deno compile` needs a `denort` runtime for the target. Deno downloads it unless
 * `DENORT_BIN` points at a local copy; on a machine without network access the download fails,
 * and this script says so plainly and exits non-zero without leaving a binary behind.
 *
 * Usage: `deno task compile [--output PATH]`
 *
 * @module
 */
import { join } from "node:path";
import { exists } from "../io/fs.ts";

const PERMISSIONS = ["--allow-read", "--allow-write", "--allow-env", "--allow-ffi", "--allow-run"];

function argValue(name: string, fallback: string): string {
  const i = Deno.args.indexOf(name);
  return i >= 0 && Deno.args[i + 1] ? Deno.args[i + 1] : fallback;
}

async function main(): Promise<number> {
  const output = argValue("--output", "bentevi");
  const tmp = `${output}.partial-${Date.now()}`;
  const includes: string[] = [];
  // The shim (source, and the library when built), the Worker modules (started by URL, so
  // `deno compile` does not find them on its own) and the demo corpus.
  const embedded = [
    "ffi/bentevi_native.c",
    "ffi/bentevi_native.h",
    "ffi/build",
    "src/tokenizer/count_worker.ts",
    "src/data/wiki/worker.ts",
    "src/data/dataset/worker.ts",
    "data/demo",
  ];
  for (const path of embedded) {
    if (await exists(path)) includes.push("--include", path);
  }
  const denort = Deno.env.get("DENORT_BIN");
  if (denort && !(await exists(denort))) {
    console.error(`compile: DENORT_BIN=${denort} does not exist`);
    return 2;
  }
  const args = ["compile", ...PERMISSIONS, ...includes, "--output", tmp, "cli.ts"];
  console.error(`compile: deno ${args.join(" ")}`);
  const result = await new Deno.Command(Deno.execPath(), {
    args,
    stdout: "inherit",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(result.stderr);
  if (!result.success) {
    for (const p of [tmp, `${tmp}.exe`]) await Deno.remove(p).catch(() => {});
    const downloadFailed = /denort|dl\.deno\.land|error sending request|dns error/i.test(stderr);
    if (downloadFailed && !denort) {
      console.error(
        [
          "compile: the denort runtime could not be obtained: `deno compile` downloads it from",
          `dl.deno.land (denort-${Deno.build.target}.zip for Deno ${Deno.version.deno}),`,
          "which this machine cannot reach. No binary was written.",
          "Fix: on a machine with access, download that zip, unzip it, copy `denort` here and run",
          "  DENORT_BIN=/path/to/denort deno task compile",
        ].join("\n"),
      );
      return 3;
    }
    console.error(stderr.trim());
    console.error("compile: failed; no binary was written");
    return 1;
  }
  await Deno.rename(tmp, output);
  console.error(`compile: wrote ${join(Deno.cwd(), output)}`);
  return 0;
}

Deno.exit(await main());
