/**
 * What the CLI command groups share: option parsers that reject bad values with a clear
 * message, the options several commands take (`--device`, the sampling flags, the checkpoint
 * and its tokenizer), opening a checkpoint for generation, and JSON/text output.
 *
 * @module
 */
import type { QuantType } from "../quant/mod.ts";
import {
  type Command,
  InvalidArgumentError,
  Option,
  type OptionValues,
} from "@commander-js/extra-typings";
import type { DeviceChoice } from "../backend/select.ts";
import { type AdapterRef, parseAdapterRef } from "../finetune/bank.ts";
import { parseThreads } from "../backend/native/load.ts";
import { type GenerationModel, openGenerationModel } from "../generate/load.ts";
import type { SamplingOptions } from "../generate/sampler.ts";
import { applyGenerationDefaults, type GenerationDefaults } from "../model/generation_config.ts";
import { parseEncoding, type TextEncoding } from "../text/encoding.ts";

/**
 * Returns a commander option parser for an integer within `[min, max]`.
 *
 * @example
 * ```ts
 * import { intOption } from "./common.ts";
 * console.log(intOption(1)("42")); // 42
 * ```
 */
export function intOption(min = -Infinity, max = Infinity): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n)) throw new InvalidArgumentError(`expected an integer, got "${value}"`);
    if (n < min || n > max) {
      throw new InvalidArgumentError(`must be between ${min} and ${max}, got ${n}`);
    }
    return n;
  };
}

/**
 * Returns a commander option parser for a finite number within `[min, max]`.
 *
 * @example
 * ```ts
 * import { floatOption } from "./common.ts";
 * console.log(floatOption(0, 1)("0.9")); // 0.9
 * ```
 */
export function floatOption(min = -Infinity, max = Infinity): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isFinite(n)) {
      throw new InvalidArgumentError(`expected a number, got "${value}"`);
    }
    if (n < min || n > max) {
      throw new InvalidArgumentError(`must be between ${min} and ${max}, got ${n}`);
    }
    return n;
  };
}

/**
 * Commander option parser for `--encoding`: the names `parseEncoding` accepts.
 *
 * @example
 * ```ts
 * import { encodingOption } from "./common.ts";
 * console.log(encodingOption("ISO-8859-1")); // "latin1"
 * ```
 */
export function encodingOption(value: string): TextEncoding {
  try {
    return parseEncoding(value);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

/**
 * The one-line notice of `dataset build` and `tokenizer train` when the input text held NUL
 * characters, which they leave out.
 *
 * @example
 * ```ts
 * import { nulNote } from "./common.ts";
 * console.log(nulNote(3)); // "note: left out 3 NUL characters (U+0000) found in the input text"
 * ```
 */
export function nulNote(count: number): string {
  return `note: left out ${count} NUL character${
    count === 1 ? "" : "s"
  } (U+0000) found in the input text`;
}

/** The `--encoding` help text. */
export const ENCODING_HELP = "input encoding: utf-8, latin1 (ISO-8859-1) or windows-1252";

/**
 * Prints a value as one line of JSON on stdout.
 *
 * @example
 * ```ts
 * import { printJson } from "./common.ts";
 * printJson({ ok: true });
 * ```
 */
export function printJson(value: unknown): void {
  console.log(JSON.stringify(value));
}

/** The `--device` choices, in help order. */
export const DEVICE_CHOICES = ["auto", "webgpu", "native", "cpu"] as const;

/**
 * The `--device` option: `auto` (default), `webgpu`, `native` or `cpu`.
 *
 * @example
 * ```ts
 * import { deviceOption } from "./common.ts";
 * console.log(deviceOption().defaultValue); // "auto"
 * ```
 */
export function deviceOption() {
  return new Option("--device <device>", "compute device").choices(DEVICE_CHOICES).default(
    "auto" as const,
  );
}

/**
 * A `--device` option without a default value (`undefined` when not given); `defaultHelp`
 * says what the command uses instead — `resume`: the device the run was started with.
 *
 * @example
 * ```ts
 * import { deviceOptionFrom } from "./common.ts";
 * console.log(deviceOptionFrom("the run's device").defaultValue); // undefined
 * ```
 */
export function deviceOptionFrom(defaultHelp: string) {
  return new Option("--device <device>", `compute device (default: ${defaultHelp})`).choices(
    DEVICE_CHOICES,
  );
}

/**
 * The `--threads <n>` option of the native backend (1 … the machine's cores; default
 * `BENTEVI_THREADS` or every core). The program's pre-action hook hands it to
 * `setDefaultThreads`, so every backend the command opens uses it.
 *
 * @example
 * ```ts
 * import { threadsOption } from "./common.ts";
 * console.log(threadsOption().flags); // "--threads <n>"
 * ```
 */
export function threadsOption() {
  return new Option(
    "--threads <n>",
    "threads of the native backend (default: BENTEVI_THREADS, else every core)",
  ).argParser((value) => parseThreads(value, "--threads"));
}

/**
 * `--quantize q8_0|q4_0|f32`: the linear layers as ggml blocks for generation (default: a GGUF
 * file's own block type, else float32).
 *
 * @example
 * ```ts
 * import { quantizeOption } from "./common.ts";
 * console.log(quantizeOption().argChoices); // [ "q8_0", "q4_0", "f32" ]
 * ```
 */
export function quantizeOption() {
  return new Option(
    "--quantize <type>",
    "weights of the linear layers as ggml blocks (default: a GGUF file's own type, else f32)",
  ).choices(["q8_0", "q4_0", "f32"] as const);
}

/** The required `--checkpoint <dir>` option, with the command's own help text. */
export function checkpointOption(help = "checkpoint directory") {
  help += "; a run directory means its latest, RUN:best its best by validation loss " +
    "(RUN:latest, RUN:STEP too)";
  return new Option("--checkpoint <dir>", help).makeOptionMandatory();
}

/**
 * The repeatable `--adapter [NAME=]DIR` option (LoRA adapters in PEFT's format, or a
 * fine-tuning run holding one), parsed into {@link AdapterRef}s.
 */
export function adapterOption(help = "a LoRA adapter to apply (repeatable; several add up)") {
  return new Option("--adapter <[name=]dir>", help)
    .argParser((value: string, previous: AdapterRef[] | undefined) => {
      try {
        return [...(previous ?? []), parseAdapterRef(value)];
      } catch (e) {
        throw new InvalidArgumentError((e as Error).message);
      }
    });
}

/** The `--tokenizer <file>` option of commands that load a checkpoint. */
export function tokenizerOverrideOption() {
  return new Option("--tokenizer <file>", "tokenizer.json to use instead of the checkpoint's");
}

/** Defaults of {@link addSamplingOptions}, per command. */
export interface SamplingDefaults {
  /** `--temperature`. */
  temperature: number;
  /** `--top-k`. */
  topK: number;
  /** `--top-p`. */
  topP: number;
  /** `--repetition-penalty`. */
  repetitionPenalty: number;
  /** The help of `--seed`. */
  seedHelp: string;
}

/**
 * Adds the sampling flags (`--temperature`, `--top-k`, `--top-p`, `--repetition-penalty`,
 * `--seed`) to `command` with its defaults; {@link samplingFrom} reads them back.
 *
 * @example
 * ```ts
 * import { Command } from "@commander-js/extra-typings";
 * import { addSamplingOptions, samplingFrom } from "./common.ts";
 * const cmd = addSamplingOptions(new Command(), {
 *   temperature: 0.8, topK: 0, topP: 1, repetitionPenalty: 1, seedHelp: "random seed",
 * });
 * console.log(samplingFrom(cmd.parse(["--top-k", "5"], { from: "user" }).opts()).topK); // 5
 * ```
 */
export function addSamplingOptions<
  Args extends unknown[],
  Opts extends OptionValues,
  Globals extends OptionValues,
>(command: Command<Args, Opts, Globals>, d: SamplingDefaults) {
  return command
    .option(
      "--temperature <x>",
      "softmax temperature; 0 = greedy",
      floatOption(0, 1000),
      d.temperature,
    )
    .option("--top-k <k>", "keep the k most likely tokens (0 = off)", intOption(0), d.topK)
    .option("--top-p <p>", "nucleus sampling, p in (0, 1]", floatOption(0, 1), d.topP)
    .option(
      "--repetition-penalty <x>",
      "penalise tokens already seen (1 = off)",
      floatOption(0),
      d.repetitionPenalty,
    )
    .option("--seed <s>", d.seedHelp, intOption(0, 2 ** 32 - 1));
}

/** The {@link SamplingOptions} of parsed sampling flags. */
export function samplingFrom(o: {
  temperature: number;
  topK: number;
  topP: number;
  repetitionPenalty: number;
  seed?: number;
}): SamplingOptions {
  return {
    temperature: o.temperature,
    topK: o.topK,
    topP: o.topP,
    repetitionPenalty: o.repetitionPenalty,
    seed: o.seed,
  };
}

/**
 * The sampling flags and `--max-tokens` with a checkpoint's `generation_config.json` values in
 * place of those left at their defaults (a flag given on the command line wins); its
 * `eos_token_id` as `endOfTextIds`.
 *
 * @example
 * ```ts
 * import { Command } from "@commander-js/extra-typings";
 * import { addSamplingOptions, samplingWithGenerationConfig } from "./common.ts";
 * const cmd = addSamplingOptions(new Command().option("--max-tokens <n>", "", Number, 128), {
 *   temperature: 0.8, topK: 0, topP: 1, repetitionPenalty: 1, seedHelp: "random seed",
 * }).parse(["--top-k", "5"], { from: "user" });
 * const gen = { source: "g.json", topK: 50, topP: 0.9, maxNewTokens: 64, eosTokenIds: [2] };
 * const s = samplingWithGenerationConfig(cmd.opts(), cmd, gen);
 * console.log(s.topK, s.topP, s.maxNewTokens, s.endOfTextIds); // 5 0.9 64 [ 2 ]
 * ```
 */
export function samplingWithGenerationConfig(
  o: {
    temperature: number;
    topK: number;
    topP: number;
    repetitionPenalty: number;
    seed?: number;
    maxTokens: number;
  },
  command: { getOptionValueSource(key: string): string | undefined },
  gen: GenerationDefaults | undefined,
): SamplingOptions & { maxNewTokens: number; endOfTextIds?: number[] } {
  const isDefault = (key: string) => command.getOptionValueSource(key) === "default";
  const knobs = applyGenerationDefaults(o, gen, isDefault);
  return {
    ...samplingFrom(knobs),
    maxNewTokens: gen?.maxNewTokens !== undefined && isDefault("maxTokens")
      ? gen.maxNewTokens
      : o.maxTokens,
    endOfTextIds: gen?.eosTokenIds,
  };
}

/**
 * Opens `--checkpoint` (with `--tokenizer` when given, and the `--adapter`s: `activeAdapters`
 * of them merged in, by default all) on `--device`, runs `fn`, then frees the model and its
 * backend.
 */
export async function withGenerationModel<T>(
  o: {
    checkpoint: string;
    device: DeviceChoice;
    tokenizer?: string;
    adapter?: AdapterRef[];
    quantize?: QuantType | "f32";
  },
  fn: (opened: GenerationModel) => Promise<T>,
  workload?: "decode" | "compute",
  activeAdapters?: readonly string[],
): Promise<T> {
  const opened = await openGenerationModel(o.checkpoint, {
    device: o.device,
    tokenizerPath: o.tokenizer,
    quantize: o.quantize,
    workload,
    adapters: o.adapter,
    activeAdapters,
  });
  try {
    return await fn(opened);
  } finally {
    opened.model.dispose();
    opened.model.backend.destroy();
  }
}
