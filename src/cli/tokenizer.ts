/**
 * CLI command group: tokenizer (`tokenizer train|encode|decode|inspect`) and the `tokenizer`
 * bench suite. Parses flags, calls src/tokenizer, prints — nothing else.
 *
 * @module
 */
import { type Command, Option } from "@commander-js/extra-typings";
import { BenteviError } from "../errors.ts";
import { withAtomicFile, writeFileAtomic } from "../io/atomic.ts";
import { refuseOutputOverInputs } from "../io/fs.ts";
import { consoleProgress } from "../progress.ts";
import {
  DEFAULT_SPECIAL_TOKENS,
  SPM_DEFAULT_EXTRA_SPECIALS,
  Tokenizer,
  trainTokenizerJson,
} from "../tokenizer/mod.ts";
import { readTextChunks } from "../text/read.ts";
import { inspectText, runTokenizerBench } from "../tokenizer/inspect.ts";
import { registerBenchSuite } from "./bench.ts";
import {
  ENCODING_HELP,
  encodingOption,
  floatOption,
  intOption,
  nulNote,
  printJson,
} from "./common.ts";

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function parseIds(args: string[]): number[] {
  const ids: number[] = [];
  for (const a of args) {
    for (const part of a.split(/[\s,\[\]]+/)) {
      if (part === "") continue;
      const n = Number(part);
      if (!Number.isInteger(n) || n < 0) {
        throw new BenteviError(`"${part}" is not a token id (expected a non-negative integer)`);
      }
      ids.push(n);
    }
  }
  return ids;
}

/** Registers this group's commands on `program`. */
export function registerTokenizer(program: Command): void {
  const group = program
    .command("tokenizer")
    .description("train, use and inspect byte-level BPE tokenizers (Hugging Face tokenizer.json)");

  group
    .command("train")
    .description(
      'train a BPE tokenizer (byte-level, or SentencePiece-style with --style sentencepiece) on text files or folders (read streaming); in .jsonl files (wiki shards) each record\'s "text" is one text',
    )
    .argument("<inputs...>", "text or .jsonl files, or folders (searched recursively)")
    .requiredOption(
      "--vocab-size <n>",
      "vocabulary size (specials + 256 bytes [+ alphabet] + merges)",
      intOption(1, 1 << 24),
    )
    .addOption(
      new Option(
        "--style <style>",
        "byte-level (GPT-2) or sentencepiece (Llama-2: ▁ words, characters, <0xNN> byte fallback)",
      ).choices(["byte-level", "sentencepiece"] as const).default("byte-level" as const),
    )
    .requiredOption("-o, --output <file>", "tokenizer.json to write")
    .option("--min-frequency <n>", "stop at pairs seen fewer times", intOption(0), 2)
    .option(
      "--special <token>",
      `special token (repeat for several; default ${DEFAULT_SPECIAL_TOKENS.join(" ")}; ` +
        `sentencepiece: <unk> <s> </s> always, then these, default ${
          SPM_DEFAULT_EXTRA_SPECIALS.join(" ")
        })`,
      collect,
    )
    .option("--no-specials", "train without special tokens (sentencepiece: <unk> <s> </s> only)")
    .option(
      "--max-token-length <n>",
      "longest token in bytes (sentencepiece: characters)",
      intOption(2),
    )
    .option(
      "--character-coverage <share>",
      "sentencepiece: share of the text's characters the alphabet covers (default 0.9995)",
      floatOption(0, 1),
    )
    .option(
      "--normalize <spec>",
      "none | nfc | nfkc | ptbr | ptbr-ascii | steps joined by commas (nfc,lowercase,strip-accents,fold-whitespace)",
      "none",
    )
    .option("--encoding <name>", ENCODING_HELP, encodingOption, "utf-8" as const)
    .addOption(
      new Option("--pre-tokenizer <name>", "pre-tokenizer regex").choices(["gpt2", "gpt4"] as const)
        .default("gpt2" as const),
    )
    .option(
      "--workers <n>",
      "Workers counting the input in parallel (1 = main thread only)",
      intOption(1, 64),
      1,
    )
    .option("--json", "print a JSON summary")
    .action(async (inputs, o) => {
      const encoding = o.encoding;
      // Fail before a long training run, not after it.
      const outInfo = await Deno.stat(o.output).catch(() => undefined);
      if (outInfo?.isDirectory) {
        throw new BenteviError(`${o.output}: is a directory; --output takes a file name`);
      }
      await refuseOutputOverInputs([o.output], inputs);
      const spm = o.style === "sentencepiece";
      if (!spm && o.characterCoverage !== undefined) {
        throw new BenteviError("--character-coverage is for --style sentencepiece");
      }
      const specialTokens = o.specials === false
        ? []
        : o.special ?? [...(spm ? SPM_DEFAULT_EXTRA_SPECIALS : DEFAULT_SPECIAL_TOKENS)];
      const t0 = performance.now();
      const json = await trainTokenizerJson(inputs, {
        vocabSize: o.vocabSize,
        style: o.style,
        characterCoverage: o.characterCoverage,
        minFrequency: o.minFrequency,
        specialTokens,
        maxTokenLength: o.maxTokenLength,
        normalize: o.normalize,
        encoding,
        preTokenizer: o.preTokenizer,
        workers: o.workers,
        onNul: (n) => console.error(nulNote(n)),
      }, consoleProgress());
      const seconds = (performance.now() - t0) / 1000;
      await writeFileAtomic(o.output, JSON.stringify(json) + "\n");
      const model = json.model as { vocab: Record<string, number>; merges: unknown[] };
      const vocabSize = Object.keys(model.vocab).length;
      const summary = {
        output: o.output,
        vocab_size: vocabSize,
        merges: model.merges.length,
        seconds: Number(seconds.toFixed(3)),
      };
      if (o.json) printJson(summary);
      else {
        console.log(
          `wrote ${o.output}: vocabulary ${summary.vocab_size} (${summary.merges} merges) in ${
            seconds.toFixed(1)
          } s`,
        );
      }
      if (vocabSize < o.vocabSize) {
        console.error(
          `note: the corpus has no more pairs seen at least ${o.minFrequency} times; the vocabulary stopped at ${vocabSize} of ${o.vocabSize}`,
        );
      }
    });

  group
    .command("encode")
    .description("encode --text or a file to token ids")
    .requiredOption("-t, --tokenizer <file>", "tokenizer.json")
    .argument("[file]", "text file to encode")
    .option("--text <text>", "text to encode")
    .option("--json", 'print JSON: {"ids","tokens"} for --text, {"count","seconds"} for a file')
    .option("-o, --output <ids.json>", "write the ids as one JSON array")
    .option("--encoding <name>", ENCODING_HELP, encodingOption, "utf-8" as const)
    .option(
      "--no-special-tokens",
      "leave out the tokens the file's post-processor adds around the text (e.g. <s>)",
    )
    .action(async (file, o) => {
      const encodeOptions = { addSpecialTokens: o.specialTokens };
      if ((file === undefined) === (o.text === undefined)) {
        throw new BenteviError("give either --text or a file to encode (not both)");
      }
      if (o.output) {
        await refuseOutputOverInputs([o.output], [
          o.tokenizer,
          ...(file === undefined ? [] : [file]),
        ]);
      }
      const tok = await Tokenizer.fromFile(o.tokenizer);
      if (o.text !== undefined) {
        const ids = tok.encode(o.text, encodeOptions);
        if (o.output) await writeFileAtomic(o.output, JSON.stringify(ids) + "\n");
        if (o.json) printJson({ ids, tokens: ids.map((id) => tok.idToToken(id)) });
        else if (o.output) console.log(`${ids.length} tokens → ${o.output}`);
        else console.log(ids.join(" "));
        return;
      }
      // A file is read and encoded in parts, so its size is not limited by memory.
      const encoding = o.encoding;
      const enc = new TextEncoder();
      let count = 0;
      let seconds = 0;
      const run = async (emit: (ids: number[], first: boolean) => Promise<void>) => {
        const parts = tok.encodeStream(
          readTextChunks(file!, { encoding }),
          undefined,
          encodeOptions,
        );
        for (;;) {
          const t0 = performance.now();
          const next = await parts.next();
          seconds += (performance.now() - t0) / 1000;
          if (next.done) break;
          if (next.value.length) await emit(next.value, count === 0);
          count += next.value.length;
        }
      };
      if (o.output) {
        await withAtomicFile(o.output, async (f) => {
          const write = async (s: string) => {
            const b = enc.encode(s);
            for (let off = 0; off < b.length;) off += await f.write(b.subarray(off));
          };
          await write("[");
          await run((ids, first) => write((first ? "" : ",") + ids.join(",")));
          await write("]\n");
        });
      } else if (!o.json) {
        let first = true;
        await run(async (ids) => {
          await Deno.stdout.write(enc.encode((first ? "" : " ") + ids.join(" ")));
          first = false;
        });
        await Deno.stdout.write(enc.encode("\n"));
      } else await run(() => Promise.resolve());
      if (o.json) printJson({ count, seconds: Number(seconds.toFixed(4)) });
      else if (o.output) console.log(`${count} tokens → ${o.output}`);
    });

  group
    .command("decode")
    .description("decode token ids to text")
    .requiredOption("-t, --tokenizer <file>", "tokenizer.json")
    .argument("<ids...>", 'token ids (separated by spaces or commas, or a JSON array "[1,2]")')
    .option("--skip-special", "leave special tokens out")
    .action(async (idArgs, o) => {
      const tok = await Tokenizer.fromFile(o.tokenizer);
      const text = tok.decode(parseIds(idArgs), { skipSpecialTokens: !!o.skipSpecial });
      await Deno.stdout.write(new TextEncoder().encode(text + "\n"));
    });

  group
    .command("inspect")
    .description(
      "show how a text is tokenized: pre-tokens, merges in order, tokens with ids, bytes per token",
    )
    .requiredOption("-t, --tokenizer <file>", "tokenizer.json")
    .requiredOption("--text <text>", "text to inspect")
    .option("--json", "print JSON")
    .action(async (o) => {
      const tok = await Tokenizer.fromFile(o.tokenizer);
      const view = inspectText(tok, o.text);
      if (o.json) printJson(view.json);
      else console.log(view.text);
    });

  registerBenchSuite({
    name: "tokenizer",
    description:
      "train (vocab 30000) and encode on text files or folders (default ../shared/data/pt/machado)",
    run: (inputs) => runTokenizerBench(inputs),
  });
}
