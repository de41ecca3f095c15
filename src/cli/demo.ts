/**
 * CLI command group: `demo` — the whole pipeline on the bundled Portuguese demo corpus (or a
 * dump of your own with `--dump`). Parses flags, calls src/demo, prints.
 *
 * @module
 */
import type { Command } from "@commander-js/extra-typings";
import { join } from "node:path";
import { DEMO_PLANS, describeTree, runDemo } from "../demo/demo.ts";
import { consoleProgress } from "../progress.ts";
import { deviceOption, intOption, printJson, threadsOption } from "./common.ts";

/** Registers this group's commands on `program`. */
export function registerDemo(program: Command): void {
  program
    .command("demo")
    .description(
      "the whole pipeline end to end: dump → clean text → tokenizer → dataset → micro model → " +
        "generated Portuguese and one chat exchange",
    )
    .option("--quick", `a small run (${DEMO_PLANS.quick.steps} training steps; under 2 minutes)`)
    .option(
      "--dump <file>",
      "a MediaWiki dump (.xml.bz2 or .xml) instead of the bundled demo corpus",
    )
    .option("--out <dir>", "output folder (a previous demo's folder there is replaced)", "out/demo")
    .addOption(deviceOption())
    .addOption(threadsOption())
    .option("--steps <n>", "training steps instead of the plan's", intOption(1, 10_000_000))
    .option("--model <preset>", "model preset instead of gpt-micro (see `info`)")
    .option(
      "--batch-size <b>",
      "sequences per step (default: chosen from the device)",
      intOption(1),
    )
    .option("--context <t>", "tokens per sequence (default: chosen from the device)", intOption(2))
    .option("--no-dialogues", "leave the bundled chat-format dialogues out of the training text")
    .option("--seed <s>", "seed for training and sampling", intOption(0, 2 ** 32 - 1), 1337)
    .option("--force", "replace --out even when it is not a demo's folder")
    .option("--json", "print the summary as JSON instead of text")
    .action(async (o) => {
      const log = (line: string) => console.error(line);
      const result = await runDemo({
        out: o.out,
        dump: o.dump,
        quick: !!o.quick,
        device: o.device,
        steps: o.steps,
        model: o.model,
        batchSize: o.batchSize,
        context: o.context,
        noDialogues: o.dialogues === false,
        force: !!o.force,
        seed: o.seed,
        progress: consoleProgress(),
        log,
      });
      if (o.json) {
        printJson(JSON.parse(await Deno.readTextFile(join(o.out, "demo.json"))));
        return;
      }
      const t = result.training;
      const lines = [
        "",
        `Trained ${result.plan.model} for ${t.step} steps on ${result.device}:`,
        `  train loss ${t.loss.toFixed(3)}` +
        (t.eval
          ? `, validation loss ${t.eval.loss.toFixed(3)} (perplexity ${
            t.eval.perplexity.toFixed(1)
          }, next-token accuracy ${(100 * t.eval.accuracy).toFixed(1)}%)`
          : "") +
        `, ${Math.round(t.tokensPerSecond)} tokens/s`,
        "",
        "Generated Portuguese (temperature 0.8, top-k 40):",
      ];
      for (const s of result.samples) lines.push(`  > ${s.text.replace(/\s*\n+\s*/g, " ")}`);
      lines.push(
        "",
        `Chat (persona "${result.chat.persona}"):`,
        `  você: ${result.chat.user}`,
        `  bentevi: ${
          result.chat.assistant.replace(/\s*\n+\s*/g, " ") ||
          `(an empty answer: the model ended its turn at once; ${t.step} steps are too few to ` +
            `learn the dialogue format)`
        }`,
        "",
        `Answered from the articles (BM25 index ${result.grounded.index}):`,
        `  você: ${result.grounded.question}`,
        `  bentevi: ${
          result.grounded.answer.replace(/\s*\n+\s*/g, " ") ||
          "(an empty answer: the model ended the line at once)"
        }`,
        ...(result.grounded.notice ? [`  (${result.grounded.notice})`] : []),
        ...result.grounded.sources.split("\n").map((l) => `  ${l}`),
        "",
        `Everything is in ${result.out}/ (${result.seconds.total.toFixed(0)} s in all):`,
        ...(await describeTree(result.out)).map((l) => `  ${l}`),
        "",
        "Next steps:",
        `  deno task cli chat --checkpoint ${t.checkpoint}`,
        `  deno task cli chat --checkpoint ${t.checkpoint} --index ${result.grounded.index}`,
        `  deno task cli search --index ${result.grounded.index} "capivara"`,
        `  deno task cli generate --checkpoint ${t.checkpoint} --prompt "A capivara" --stream`,
        `  deno task demo --dump ptwiki-latest-pages-articles.xml.bz2 --out out/ptwiki   # your own dump`,
      );
      console.log(lines.join("\n"));
    });
}
