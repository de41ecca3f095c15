/**
 * The educational view behind `tokenizer inspect`, and the figures behind `bench tokenizer`.
 *
 * @module
 */
import { existsSync } from "node:fs";
import { BenteviError } from "../errors.ts";
import { listInputFiles } from "../text/inputs.ts";
import { readText } from "../text/read.ts";
import { Tokenizer } from "./tokenizer.ts";
import { trainTokenizer } from "./trainer.ts";

const fatal = new TextDecoder("utf-8", { fatal: true });

/** A token's bytes for people: the text when it is whole UTF-8, else hex bytes. */
export function showBytes(bytes: Uint8Array): string {
  try {
    return JSON.stringify(fatal.decode(bytes));
  } catch {
    return `<${[...bytes].map((b) => b.toString(16).toUpperCase().padStart(2, "0")).join(" ")}>`;
  }
}

/** Pre-tokens, merges in order, final tokens and bytes per token for `text`. */
export function inspectText(
  tok: Tokenizer,
  text: string,
): { json: Record<string, unknown>; text: string } {
  const show = (id: number) => showBytes(tok.tokenBytes(id)!);
  const pieces = tok.preTokenize(text);
  const lines: string[] = [];
  const normalizer = tok.parts.normalizer;
  const bytes = new TextEncoder().encode(text).length;
  lines.push(`text: ${JSON.stringify(text)} (${text.length} UTF-16 units, ${bytes} bytes)`);
  if (normalizer) lines.push(`normalized: ${JSON.stringify(normalizer.normalize(text))}`);
  lines.push(
    `pre-tokens (${pieces.length}): ${
      pieces.map((p) => p.addedId !== undefined ? `[${p.piece}]` : JSON.stringify(p.piece)).join(
        " ",
      )
    }`,
  );
  lines.push("merges, in the order BPE applies them (rank = position in the merge list):");
  const jsonPieces = [];
  for (const p of pieces) {
    if (p.addedId !== undefined) {
      lines.push(`  ${p.piece}: added token, id ${p.addedId}, never split`);
      jsonPieces.push({ piece: p.piece, added_id: p.addedId, merges: [], ids: [p.addedId] });
      continue;
    }
    const trace = tok.parts.model.trace(p.piece);
    const ids = trace.steps.length ? trace.steps[trace.steps.length - 1].ids : trace.bytes;
    lines.push(
      `  ${JSON.stringify(p.piece)}: bytes ${trace.bytes.map(show).join(" ")}`,
    );
    for (const s of trace.steps) {
      lines.push(
        `    #${s.rank}: ${show(s.pair[0])} + ${show(s.pair[1])} → ${s.ids.map(show).join(" ")}`,
      );
    }
    jsonPieces.push({
      piece: p.piece,
      merges: trace.steps.map((s) => ({
        rank: s.rank,
        pair: s.pair.map((id) => tok.idToToken(id)),
      })),
      ids,
    });
  }
  const ids = tok.encode(text);
  lines.push(`tokens (${ids.length}):`);
  for (const id of ids) lines.push(`  ${String(id).padStart(7)}  ${show(id)}`);
  const bpt = ids.length ? bytes / ids.length : 0;
  lines.push(`bytes per token: ${bpt.toFixed(2)}`);
  return {
    json: {
      text,
      normalized: normalizer ? normalizer.normalize(text) : text,
      pieces: jsonPieces,
      ids,
      tokens: ids.map((id) => tok.idToToken(id)),
      bytes,
      bytes_per_token: Number(bpt.toFixed(4)),
    },
    text: lines.join("\n"),
  };
}

const DEFAULT_CORPUS = "../shared/data/pt/machado";
const GPT2 = "../shared/data/tokenizer/gpt2/tokenizer.json";

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/**
 * `bench tokenizer`: trains with vocab 30000 (min frequency 0, the five bracket specials —
 * the options Hugging Face's npm trainer is fixed to) on `inputs` — on the main thread and with
 * two counting Workers — then encodes them with the
 * result and with GPT-2's tokenizer (when ../shared/data has it). Encoding runs on a fresh
 * tokenizer each time (cold word cache); figures are medians of 3.
 */
export async function runTokenizerBench(
  inputs: string[],
): Promise<{ json: Record<string, unknown>; text: string }> {
  if (inputs.length === 0) {
    if (!existsSync(DEFAULT_CORPUS)) {
      throw new BenteviError(
        `no inputs given and ${DEFAULT_CORPUS} is absent; pass text files or folders`,
      );
    }
    inputs = [DEFAULT_CORPUS];
  }
  const files = await listInputFiles(inputs);
  const texts = await Promise.all(files.map((f) => readText(f.path)));
  const bytes = files.reduce((s, f) => s + f.size, 0);
  if (bytes === 0) throw new BenteviError("bench tokenizer: the inputs are empty");

  const t0 = performance.now();
  const trained = await trainTokenizer(inputs, {
    vocabSize: 30000,
    minFrequency: 0,
    specialTokens: ["[PAD]", "[UNK]", "[BOS]", "[EOS]", "[SEP]"],
  });
  const trainSeconds = (performance.now() - t0) / 1000;
  const trainedJson = trained.toJSON();
  // The same with two counting Workers (same result; does parallel counting pay here?).
  const t1 = performance.now();
  await trainTokenizer(inputs, {
    vocabSize: 30000,
    minFrequency: 0,
    specialTokens: ["[PAD]", "[UNK]", "[BOS]", "[EOS]", "[SEP]"],
    workers: 2,
  });
  const trainSeconds2 = (performance.now() - t1) / 1000;

  const encodeRuns = (json: unknown) => {
    const secs: number[] = [];
    let tokens = 0;
    for (let r = 0; r < 3; r++) {
      const tok = Tokenizer.fromJSON(json);
      const t = performance.now();
      tokens = 0;
      for (const text of texts) tokens += tok.encode(text).length;
      secs.push((performance.now() - t) / 1000);
    }
    return { seconds: median(secs), tokens };
  };
  const enc = encodeRuns(trainedJson);
  const json: Record<string, unknown> = {
    files: files.length,
    bytes,
    vocab_size: trained.vocabSize,
    train_seconds: Number(trainSeconds.toFixed(3)),
    train_mb_per_s: Number((bytes / 1e6 / trainSeconds).toFixed(3)),
    train_seconds_2_workers: Number(trainSeconds2.toFixed(3)),
    encode_seconds: Number(enc.seconds.toFixed(3)),
    encode_mb_per_s: Number((bytes / 1e6 / enc.seconds).toFixed(3)),
    tokens: enc.tokens,
    bytes_per_token: Number((bytes / enc.tokens).toFixed(4)),
    cores: navigator.hardwareConcurrency,
  };
  if (existsSync(GPT2)) {
    const gpt2 = JSON.parse(await Deno.readTextFile(GPT2));
    const g = encodeRuns(gpt2);
    json.gpt2_encode_mb_per_s = Number((bytes / 1e6 / g.seconds).toFixed(3));
    json.gpt2_tokens = g.tokens;
    json.gpt2_bytes_per_token = Number((bytes / g.tokens).toFixed(4));
  }
  const rows = Object.entries(json).map(([k, v]) => `  ${k.padEnd(22)} ${v}`);
  return { json, text: `bench tokenizer (${inputs.join(" ")})\n${rows.join("\n")}` };
}
