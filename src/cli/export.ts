/**
 * `bentevi export gguf`: a checkpoint → a GGUF file for llama.cpp and the tools built on it.
 *
 * @module
 */
import { type Command, Option } from "@commander-js/extra-typings";
import { exportGguf, GGUF_EXPORT_TYPES } from "../gguf/export.ts";
import { refuseOutputOverInputs } from "../io/fs.ts";
import { resolveCheckpointDir } from "../model/checkpoint.ts";
import { consoleProgress } from "../progress.ts";
import { printJson } from "./common.ts";

/** Registers `export gguf`. */
export function registerExport(program: Command): void {
  const group = program
    .command("export")
    .description("write a checkpoint in another tool's format");
  group
    .command("gguf")
    .description("a GPT-2 or Llama checkpoint → one GGUF file (llama.cpp, Ollama, LM Studio…)")
    .argument("<checkpoint>", "checkpoint directory or training run")
    .requiredOption("--out <file>", "the .gguf file to write")
    .addOption(
      new Option("--type <type>", "how matrices are stored").choices(GGUF_EXPORT_TYPES).default(
        "f32" as const,
      ),
    )
    .option("--json", "print the result as JSON")
    .action(async (checkpoint, o) => {
      const dir = await resolveCheckpointDir(checkpoint);
      const inputs: string[] = [];
      try {
        for await (const e of Deno.readDir(dir)) if (e.isFile) inputs.push(`${dir}/${e.name}`);
      } catch { /* exportGguf names what is wrong with the checkpoint */ }
      await refuseOutputOverInputs([o.out], inputs, "--out");
      const r = await exportGguf(checkpoint, {
        out: o.out,
        type: o.type,
        progress: o.json ? undefined : consoleProgress(),
      });
      if (o.json) printJson(r);
      else {
        const types = Object.entries(r.types).map(([t, n]) => `${n} ${t}`).join(", ");
        console.log(
          `wrote ${r.out}: ${r.architecture}, ${r.tensors} tensors (${types}), ${
            (r.bytes / 1e6).toFixed(1)
          } MB`,
        );
      }
    });
}
