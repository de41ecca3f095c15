/**
 * CLI command: `learn [lesson]` — the runnable lessons of `src/explain/lessons.ts`.
 *
 * @module
 */
import { type Command, Option } from "@commander-js/extra-typings";
import { createBackend } from "../backend/select.ts";
import { type LessonName, LESSONS, runLesson } from "../explain/lessons.ts";
import { BenteviError } from "../errors.ts";
import { floatOption, intOption, printJson } from "./common.ts";

/** Registers `learn` on `program`. */
export function registerLearn(program: Command): void {
  program
    .command("learn")
    .description(
      `short lessons in Portuguese on a tiny model built on the spot: ${LESSONS.join(", ")} ` +
        "(none: the list)",
    )
    .argument("[lesson]", LESSONS.join(" | "))
    .option("--text <text>", "the sentence the lesson studies")
    .option("--vocab-size <n>", "vocabulary of the lesson's tokenizer", intOption(1, 65_536))
    .option("--steps <n>", "training steps of the tiny model (default 200)", intOption(0, 100_000))
    .option("--lr <rate>", "peak learning rate (default 0.003)", floatOption(0, 1))
    .option("--corpus <file>", "a .txt or .jsonl file to learn from (default: the demo dialogues)")
    .option("--seed <n>", "seed of the model and the batches", intOption(0, 2 ** 32 - 1), 1)
    .addOption(
      new Option("--device <device>", "where the tiny model runs").choices(
        ["auto", "webgpu", "cpu"] as const,
      ).default("cpu" as const),
    )
    .option("--json", "print the lesson's figures as JSON after its text")
    .action(async (lesson, o) => {
      if (lesson === undefined) {
        console.log(
          [
            "Lições (bentevi learn NOME):",
            "  tokenization   como o texto vira tokens: bytes, merges do BPE, ids",
            "  embeddings     a tabela de vetores dos tokens, antes e depois de treinar",
            "  attention      para onde cada cabeça de atenção olha, e um passo de geração inteiro",
            "  training       a perda caindo passo a passo, e o texto antes e depois",
          ].join("\n"),
        );
        return;
      }
      if (!(LESSONS as readonly string[]).includes(lesson)) {
        throw new BenteviError(`unknown lesson "${lesson}"; choose one of ${LESSONS.join(", ")}`);
      }
      const backend = await createBackend(o.device);
      const r = await runLesson(lesson as LessonName, {
        text: o.text,
        vocabSize: o.vocabSize,
        steps: o.steps,
        lr: o.lr,
        corpus: o.corpus,
        seed: o.seed,
        backend,
        print: o.json ? undefined : (line) => console.log(line),
      });
      if (o.json) printJson({ lesson: r.lesson, lines: r.lines, facts: r.facts });
    });
}
