/**
 * The Bentevi command line: `deno run <permissions> cli.ts <command>` (see README.md for the
 * exact permissions; only `serve` needs network access, `--allow-net=HOST:PORT`).
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import denoConfig from "./deno.json" with { type: "json" };
import { BenteviError, fsError, osErrorPhrase } from "./src/errors.ts";
import { registerBench } from "./src/cli/bench.ts";
import { registerTokenizer } from "./src/cli/tokenizer.ts";
import { registerGpu } from "./src/cli/gpu.ts";
import { registerTrain } from "./src/cli/train.ts";
import { registerFinetune } from "./src/cli/finetune.ts";
import { registerGenerate } from "./src/cli/generate.ts";
import { registerData } from "./src/cli/data.ts";
import { registerChunk } from "./src/cli/chunk.ts";
import { registerDemo } from "./src/cli/demo.ts";
import { registerIndex } from "./src/cli/index.ts";
import { registerServe } from "./src/cli/serve.ts";
import { registerAdapter } from "./src/cli/adapter.ts";
import { registerLearn } from "./src/cli/learn.ts";
import { setDefaultThreads } from "./src/backend/native/mod.ts";
import { registerExport } from "./src/cli/export.ts";

/** Builds the `bentevi` program with every command group registered. */
export function buildProgram(): Command {
  const program = new Command("bentevi")
    .description(
      "Bentevi: from a Portuguese corpus (up to a Wikipedia dump) to a small language model you can chat with",
    )
    .version(denoConfig.version)
    // Usage errors (unknown option, bad value…) as one line like every other error.
    .configureOutput({
      outputError: (text, write) =>
        write(`bentevi: ${text.replace(/^error: /, "").trim()} (see --help)\n`),
    })
    // `--threads` (parsed and checked by the option) sets the native backend's thread count
    // for every backend the command opens.
    .hook("preAction", (_program, action) => {
      const threads = (action.opts() as { threads?: number }).threads;
      if (threads !== undefined) setDefaultThreads(threads);
    });
  registerTokenizer(program);
  registerGpu(program);
  registerTrain(program);
  registerFinetune(program);
  registerGenerate(program);
  registerData(program);
  registerChunk(program);
  registerIndex(program);
  registerServe(program);
  registerAdapter(program);
  registerExport(program);
  registerDemo(program);
  registerLearn(program);
  registerBench(program);
  return program;
}

/** Runs the CLI on `args`; returns the process exit code. */
export async function main(args: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(args, { from: "user" });
    return 0;
  } catch (error) {
    let e = error;
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.PermissionDenied) {
      e = fsError(e, (e as Error).message);
    }
    const phrase = osErrorPhrase(e);
    if (phrase && !(e instanceof BenteviError)) {
      // A write that no layer named the file of: still a user's problem, not a bug.
      e = new BenteviError(`${phrase} (${(e as Error).message})`);
    }
    if (e instanceof BenteviError) {
      console.error(`bentevi: ${e.message}`);
      return e.exitCode;
    }
    if (Deno.env.get("BENTEVI_DEBUG")) throw e;
    console.error(
      `bentevi: internal error: ${
        (e as Error)?.message ?? e
      } (this is a bug; BENTEVI_DEBUG=1 shows the stack trace)`,
    );
    return 70;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
