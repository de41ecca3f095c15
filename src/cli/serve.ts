/**
 * CLI command: `serve` — a checkpoint behind the OpenAI HTTP API and the chat page
 * (src/serve). Parses flags, starts the server, prints where it listens, stops on SIGINT or
 * SIGTERM.
 *
 * @module
 */
import type { Command } from "@commander-js/extra-typings";
import { serve, SERVE_DEFAULTS } from "../serve/server.ts";
import { BenteviError } from "../errors.ts";
import {
  adapterOption,
  checkpointOption,
  deviceOption,
  intOption,
  quantizeOption,
  threadsOption,
  tokenizerOverrideOption,
} from "./common.ts";
import { addRagOptions } from "./index.ts";

/**
 * Registers `serve` on the program.
 *
 * @example
 * ```ts
 * import { Command } from "@commander-js/extra-typings";
 * import { registerServe } from "./serve.ts";
 * const program = new Command("bentevi");
 * registerServe(program);
 * console.log(program.commands.map((c) => c.name())); // [ "serve" ]
 * ```
 */
export function registerServe(program: Command): void {
  const command = program
    .command("serve")
    .description(
      "serve a checkpoint over the OpenAI HTTP API (/v1/chat/completions, /v1/completions, " +
        "/v1/models, /v1/embeddings, /health) with a chat page at / — needs --allow-net=HOST:PORT",
    )
    .addOption(checkpointOption())
    .option(
      "--host <address>",
      "address to listen on (loopback: this machine only)",
      SERVE_DEFAULTS.host,
    )
    .option(
      "--port <n>",
      "port to listen on (0: any free port)",
      intOption(0, 65535),
      SERVE_DEFAULTS.port,
    )
    .option(
      "--api-key <key>",
      "require 'Authorization: Bearer KEY' on /v1/* (default: $BENTEVI_API_KEY when set)",
    )
    .option(
      "--max-concurrent <n>",
      "most generations at once (one model copy each)",
      intOption(1, 256),
      SERVE_DEFAULTS.maxConcurrent,
    )
    .option(
      "--max-queue <n>",
      "most requests waiting for a model; beyond it the server answers 429",
      intOption(0, 100_000),
      SERVE_DEFAULTS.maxQueue,
    )
    .option("--model-name <id>", "the model id the API reports (default: the checkpoint's name)")
    .addOption(
      adapterOption(
        'a LoRA adapter a request picks with "model": "NAME" (repeatable, NAME=DIR; listed in /v1/models)',
      ),
    )
    .option("--quiet", "no line per request on stderr");
  addRagOptions(command)
    .addOption(tokenizerOverrideOption())
    .addOption(quantizeOption())
    .addOption(deviceOption())
    .addOption(threadsOption())
    .action(async (o) => {
      const apiKey = o.apiKey ?? (Deno.env.get("BENTEVI_API_KEY") || undefined);
      if (o.contextTokens !== undefined && !o.index) {
        throw new BenteviError("--context-tokens needs --index");
      }
      const server = await serve({
        checkpoint: o.checkpoint,
        tokenizerPath: o.tokenizer,
        quantize: o.quantize,
        device: o.device,
        host: o.host,
        port: o.port,
        apiKey,
        maxConcurrent: o.maxConcurrent,
        maxQueue: o.maxQueue,
        modelName: o.modelName,
        adapters: o.adapter,
        index: o.index,
        k: o.k,
        contextTokens: o.contextTokens,
        log: o.quiet ? () => {} : (line) => console.error(line),
      });
      const stop = () => void server.shutdown();
      const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
      for (const s of signals) Deno.addSignalListener(s, stop);
      const adapters = o.adapter?.length
        ? ` with adapters ${o.adapter.map((a) => a.name).join(", ")}`
        : "";
      console.log(
        `bentevi: serving ${server.modelId} (${server.description})${adapters} at ${server.url} — ` +
          `OpenAI API under ${server.url}/v1, chat page at ${server.url}/` +
          `${apiKey ? " (API key required)" : ""}${
            o.index ? `, answering from ${o.index}` : ""
          }; Ctrl-C stops`,
      );
      try {
        await server.finished;
      } finally {
        for (const s of signals) Deno.removeSignalListener(s, stop);
      }
    });
}
