/**
 * Worker for `dataset build`: loads the tokenizer once, then encodes batches of documents and
 * sends back their token ids (transferred, not copied).
 *
 * @module
 */
import { Tokenizer } from "../../tokenizer/mod.ts";

/** Message to the worker. */
export type DatasetWorkerRequest =
  | { type: "init"; tokenizerJson: string; name: string }
  | { type: "encode"; seq: number; texts: string[] };

/** Message from the worker. */
export type DatasetWorkerResponse =
  | { type: "ready" }
  | { type: "encoded"; seq: number; tokens: Uint32Array[] }
  | { type: "error"; message: string; user: boolean };

// deno-lint-ignore no-explicit-any
const self_ = self as any;
let tokenizer: Tokenizer | null = null;

self_.onmessage = (event: MessageEvent<DatasetWorkerRequest>) => {
  const msg = event.data;
  try {
    if (msg.type === "init") {
      tokenizer = Tokenizer.fromJSON(msg.tokenizerJson, msg.name);
      self_.postMessage({ type: "ready" } satisfies DatasetWorkerResponse);
      return;
    }
    const tokens = msg.texts.map((t) => Uint32Array.from(tokenizer!.encode(t)));
    self_.postMessage(
      { type: "encoded", seq: msg.seq, tokens } satisfies DatasetWorkerResponse,
      tokens.map((t) => t.buffer),
    );
  } catch (e) {
    self_.postMessage(
      {
        type: "error",
        message: (e as Error)?.message ?? String(e),
        user: (e as Error)?.name === "BenteviError",
      } satisfies DatasetWorkerResponse,
    );
  }
};
