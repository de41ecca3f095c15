/**
 * `bentevi serve` under load: aggregate and per-stream tokens/s with 1, 4 and 8 concurrent
 * streamed chat completions, time to first token, and the server's memory (RSS, peak).
 *
 *   deno run -A bench/serve.ts [--checkpoint DIR] [--preset gpt-micro] [--context 512] [--tokens 128]
 *     [--rounds 2] [--levels 1,4,8] [--device cpu] [--json]
 *
 * Without --checkpoint it writes a random-weight checkpoint of the preset (byte-level tokenizer
 * with the chat tokens) to a temp dir. The server runs as its own process with exactly its
 * documented permissions (--allow-read --allow-env --allow-ffi --allow-net=127.0.0.1); each
 * request asks for exactly --tokens new tokens (min_tokens = max_tokens). Levels alternate
 * (1, 4, 8, 1, 4, 8, …) and the median of the rounds is reported. -A because RSS is read from
 * /proc/PID/status, which Deno gates behind --allow-all.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { initWeights, presetConfig, saveCheckpoint } from "../src/model/mod.ts";
import { Tokenizer } from "../src/tokenizer/mod.ts";
import { ChatSession, openGenerationModel } from "../src/generate/mod.ts";

const { values: o } = parseArgs({
  args: Deno.args,
  options: {
    checkpoint: { type: "string" },
    preset: { type: "string", default: "gpt-micro" },
    context: { type: "string", default: "512" },
    tokens: { type: "string", default: "128" },
    rounds: { type: "string", default: "2" },
    device: { type: "string", default: "cpu" },
    levels: { type: "string", default: "1,4,8" },
    json: { type: "boolean", default: false },
  },
});
const tokens = Number(o.tokens), rounds = Number(o.rounds);
const levels = o.levels!.split(",").map(Number);
const log = (s: string) => o.json ? undefined : console.error(s);

let checkpoint = o.checkpoint;
let tmp: string | undefined;
if (!checkpoint) {
  tmp = await Deno.makeTempDir({ prefix: "bentevi-bench-serve-" });
  const base = Tokenizer.byteLevel().toJSON() as { added_tokens?: unknown[] };
  const specials = ["<|system|>", "<|user|>", "<|assistant|>", "[EOS]"];
  const json = JSON.stringify({
    ...base,
    added_tokens: specials.map((content, i) => ({
      id: 256 + i,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
  });
  const config = { ...presetConfig(o.preset!, 260), contextLength: Number(o.context) };
  checkpoint = `${tmp}/ckpt`;
  await saveCheckpoint(checkpoint, {
    config,
    weights: initWeights(config, 1),
    tokenizer: { toJSON: () => json },
  });
}

const cli = fileURLToPath(new URL("../cli.ts", import.meta.url));
const args = [
  "run",
  "--allow-read",
  "--allow-env",
  "--allow-ffi",
  "--allow-net=127.0.0.1",
  cli,
  "serve",
  "--checkpoint",
  checkpoint,
  "--port",
  "0",
  "--device",
  o.device!,
  "--quiet",
  "--max-concurrent",
  String(Math.max(...levels)),
];
const child = new Deno.Command(Deno.execPath(), { args, stdout: "piped", stderr: "inherit" })
  .spawn();
const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
let out = "";
while (!/ at (http:\/\/\S+) /.test(out)) {
  const { value, done } = await reader.read();
  if (done) throw new Error(`serve exited: ${out}`);
  out += value;
}
const url = / at (http:\/\/\S+) /.exec(out)![1];
const description = /serving \S+ \((.*)\) at/.exec(out)?.[1];
log(`server: ${description} at ${url}`);

const memory = async () => {
  const status = await Deno.readTextFile(`/proc/${child.pid}/status`);
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN);
  return { rssMiB: kb("VmRSS") / 1024, peakMiB: kb("VmHWM") / 1024 };
};

/** One streamed chat completion: time to first content, end time, tokens. */
async function stream(i: number) {
  const t0 = performance.now();
  const r = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    body: JSON.stringify({
      messages: [{ role: "user", content: `Conte uma história número ${i}.` }],
      max_tokens: tokens,
      min_tokens: tokens,
      seed: i,
      stream: true,
      stream_options: { include_usage: true },
    }),
  });
  let first = NaN, usage = 0, buf = "";
  const dec = r.body!.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { value, done } = await dec.read();
    if (done) break;
    buf += value;
    if (Number.isNaN(first) && buf.includes('"content":"') && /"content":"[^"]/.test(buf)) {
      first = performance.now() - t0;
    }
    const m = /"completion_tokens":(\d+)/.exec(buf);
    if (m) usage = Number(m[1]);
    if (buf.length > 1e5) buf = buf.slice(-2000);
  }
  return { ttftMs: first, seconds: (performance.now() - t0) / 1000, tokens: usage };
}

// The same answer without the server (ChatSession in this process): what serving costs.
const direct = await openGenerationModel(checkpoint, { device: o.device as "cpu", log: () => {} });
const template = direct.chatTemplate;
async function alone(i: number): Promise<number> {
  const chat = new ChatSession(direct.model, direct.tokenizer, {
    chatTemplate: template,
    maxNewTokens: tokens,
    minNewTokens: tokens,
    sampling: { seed: i },
  });
  const t0 = performance.now();
  const r = await chat.reply(`Conte uma história número ${i}.`);
  return r.result.tokens.length / ((performance.now() - t0) / 1000);
}
const directRuns: number[] = [];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
// Warm up: builds every model (one per concurrent stream) and its workspaces.
await Promise.all(Array.from({ length: Math.max(...levels) }, (_, i) => stream(-1 - i)));
const results: Record<
  number,
  { aggregate: number[]; perStream: number[]; ttft: number[]; rss: number[]; peak: number[] }
> = {};
await alone(0);
for (let round = 0; round < rounds; round++) {
  directRuns.push(await alone(round + 1));
  log(
    `round ${round + 1}, ChatSession without the server: ${directRuns.at(-1)!.toFixed(1)} tokens/s`,
  );
  for (const n of levels) {
    const t0 = performance.now();
    const runs = await Promise.all(
      Array.from({ length: n }, (_, i) => stream(1000 * round + i + 1)),
    );
    const wall = (performance.now() - t0) / 1000;
    const total = runs.reduce((a, r) => a + r.tokens, 0);
    const mem = await memory();
    const r = results[n] ??= { aggregate: [], perStream: [], ttft: [], rss: [], peak: [] };
    r.aggregate.push(total / wall);
    r.perStream.push(median(runs.map((x) => x.tokens / x.seconds)));
    r.ttft.push(median(runs.map((x) => x.ttftMs)));
    r.rss.push(mem.rssMiB);
    r.peak.push(mem.peakMiB);
    log(
      `round ${round + 1}, ${n} stream(s): ${(total / wall).toFixed(1)} tokens/s in all, ` +
        `${median(runs.map((x) => x.tokens / x.seconds)).toFixed(1)} per stream, ` +
        `TTFT median ${median(runs.map((x) => x.ttftMs)).toFixed(0)} ms (max ${
          Math.max(...runs.map((x) => x.ttftMs)).toFixed(0)
        }), ` +
        `RSS ${mem.rssMiB.toFixed(0)} MiB (peak ${mem.peakMiB.toFixed(0)})`,
    );
  }
}
child.kill("SIGTERM");
await child.status;
if (tmp) await Deno.remove(tmp, { recursive: true });
const summary = levels.map((n) => ({
  streams: n,
  aggregate_tokens_per_second: median(results[n].aggregate),
  per_stream_tokens_per_second: median(results[n].perStream),
  ttft_ms: median(results[n].ttft),
  rss_mib: median(results[n].rss),
  peak_rss_mib: Math.max(...results[n].peak),
}));
const load = (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
if (o.json) {
  console.log(JSON.stringify({ model: description, tokens, rounds, load, levels: summary }));
} else {
  console.log(
    `${description}; ${tokens} tokens per request; median of ${rounds} rounds; load ${load}`,
  );
  console.log("streams | tokens/s (all) | tokens/s (each) | TTFT ms | RSS MiB | peak MiB");
  for (const s of summary) {
    console.log(
      `${s.streams} | ${s.aggregate_tokens_per_second.toFixed(1)} | ${
        s.per_stream_tokens_per_second.toFixed(1)
      } | ` +
        `${s.ttft_ms.toFixed(0)} | ${s.rss_mib.toFixed(0)} | ${s.peak_rss_mib.toFixed(0)}`,
    );
  }
}
