/**
 * The peer for the GGUF tests and `bench/quant.ts`: llama.cpp itself through `node-llama-cpp`
 * (prebuilt binaries), run in a child process by {@link runLlamaPeer} because it needs
 * permissions the test task does not grant (`--allow-sys=homedir,uid`), and so that a crash of
 * the native addon cannot take the tests down. As a script it reads a JSON request on stdin and
 * prints a JSON answer.
 *
 * Per job: the ids of each string (no special-token parsing, no BOS), `steps` greedy tokens
 * after each prompt (token ids), and the next-token probabilities (`[id, p]` pairs) after each
 * prompt of `probs`.
 */
import process from "node:process";

/** One model's questions. */
export interface PeerJob {
  /** The GGUF file. */
  model: string;
  /** Texts to tokenize. */
  strings?: string[];
  /** Prompts (token ids) to continue greedily. */
  prompts?: number[][];
  /** Greedy tokens per prompt (default 8). */
  steps?: number;
  /** Prompts (token ids) whose next-token distribution is wanted. */
  probs?: number[][];
  /** Timing: prefill `prompt`, then decode `decode` greedy tokens (`bench/quant.ts`). */
  bench?: { prompt: number[]; decode: number; context?: number };
}

/** One model's answers. */
export interface PeerAnswer {
  /** Ids of each string. */
  tokens: number[][];
  /** Greedy continuation of each prompt. */
  greedy: number[][];
  /** Next-token probabilities after each `probs` prompt, as `[id, p]` pairs. */
  probs: [number, number][][];
  /** Timing of `bench`: seconds, and the process's resident memory growth from the load. */
  bench?: {
    prefillSeconds: number;
    decodeSeconds: number;
    decoded: number;
    loadRssMB: number;
    /** CPU seconds of the process (all threads) during the prefill and the decode. */
    prefillCpuSeconds?: number;
    decodeCpuSeconds?: number;
  };
}

/** The permissions the peer needs (node-llama-cpp reads the home directory and uid, and
 * starts a process to test its binary). */
export const PEER_PERMISSIONS = [
  "--allow-read",
  "--allow-env",
  "--allow-ffi",
  "--allow-run",
  "--allow-sys=homedir,uid",
];

/** Runs the peer on `jobs`; throws with its stderr when it fails. */
export async function runLlamaPeer(jobs: PeerJob[], threads = 1): Promise<PeerAnswer[]> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...PEER_PERMISSIONS, new URL(import.meta.url).pathname],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(JSON.stringify({ jobs, threads })));
  await w.close();
  const o = await child.output();
  if (!o.success) {
    throw new Error(
      `node-llama-cpp peer failed: ${new TextDecoder().decode(o.stderr).slice(-1500)}`,
    );
  }
  return JSON.parse(new TextDecoder().decode(o.stdout));
}

/** CPU seconds used by this process so far (user + system, all threads). */
export function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

if (import.meta.main) {
  const { getLlama, LlamaLogLevel } = await import("node-llama-cpp");
  const req: { jobs: PeerJob[]; threads: number } = JSON.parse(
    await new Response(Deno.stdin.readable).text(),
  );
  const llama = await getLlama({
    gpu: false,
    build: "never",
    logLevel: LlamaLogLevel.error,
    maxThreads: req.threads,
  });
  const answers: PeerAnswer[] = [];
  for (const job of req.jobs) {
    const rss0 = Deno.memoryUsage().rss;
    const model = await llama.loadModel({ modelPath: job.model, gpuLayers: 0 });
    const tokens = (job.strings ?? []).map((s) => [...model.tokenize(s, false)].map(Number));
    const greedy: number[][] = [];
    const probs: [number, number][][] = [];
    const context = await model.createContext({
      contextSize: job.bench ? job.bench.context ?? 512 : 128,
      threads: req.threads,
    });
    const sequence = context.getSequence();
    // Greedy tokens and probabilities through `controlledEvaluate`, awaited call by call: the
    // generators of `evaluate`/`evaluateWithMetadata` left with `break` could still be running
    // when `clearHistory` and the next prompt came, and now and then an answer belonged to the
    // next prompt (a flaky test: the peer's distribution after prompt 2 was prompt 3's).
    const next = async (tokens: number[], want: "token" | "probabilities") => {
      const input = [
        ...tokens.slice(0, -1),
        [tokens[tokens.length - 1], {
          generateNext: {
            [want]: true,
            options: want === "token"
              ? { temperature: 0 }
              : { temperature: 1, topK: 0, topP: 1, minP: 0, seed: 1 },
          },
        }],
      ];
      const out = await sequence.controlledEvaluate(input as never);
      const result = out[out.length - 1]?.next;
      if (!result) throw new Error("llama.cpp gave no next-token result");
      return result;
    };
    for (const prompt of job.prompts ?? []) {
      await sequence.clearHistory();
      // Past an end-of-text token too, as our greedy decoding does.
      const out: number[] = [];
      let feed = prompt;
      while (out.length < (job.steps ?? 8)) {
        const t = (await next(feed, "token")).token;
        if (t === undefined || t === null) break;
        out.push(Number(t));
        feed = [Number(t)];
      }
      greedy.push(out);
    }
    for (const prompt of job.probs ?? []) {
      await sequence.clearHistory();
      const p = (await next(prompt, "probabilities")).probabilities;
      if (!p) throw new Error("llama.cpp gave no probabilities");
      probs.push([...p].map(([id, pr]) => [Number(id), pr]));
    }
    let bench: PeerAnswer["bench"];
    if (job.bench) {
      const loadRssMB = (Deno.memoryUsage().rss - rss0) / 2 ** 20;
      await sequence.clearHistory();
      const c0 = cpuSeconds();
      const t0 = performance.now();
      await sequence.evaluateWithoutGeneratingNewTokens(job.bench.prompt as never);
      const t1 = performance.now();
      const c1 = cpuSeconds();
      await sequence.clearHistory();
      // Decode timing: from the first generated token (the prompt is evaluated before it).
      let n = 0, t2 = 0, c2 = 0;
      const gen = sequence.evaluate(job.bench.prompt as never, { temperature: 0 });
      for await (const _ of gen) {
        if (n === 0) t2 = performance.now(), c2 = cpuSeconds();
        if (++n > job.bench.decode) break;
      }
      const t3 = performance.now();
      const c3 = cpuSeconds();
      bench = {
        prefillSeconds: (t1 - t0) / 1000,
        decodeSeconds: (t3 - t2) / 1000,
        decoded: n - 1,
        loadRssMB,
        prefillCpuSeconds: c1 - c0,
        decodeCpuSeconds: c3 - c2,
      };
    }
    await context.dispose();
    await model.dispose();
    answers.push({ tokens, greedy, probs, bench });
  }
  await llama.dispose();
  console.log(JSON.stringify(answers));
}
