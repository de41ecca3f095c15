/**
 * A Worker that counts the pieces of some file segments (see counter.ts) and posts the
 * counts back. Started by `countPieces` when `workers > 1`.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { BenteviError } from "../errors.ts";
import type { TextEncoding } from "../text/encoding.ts";
import { type CountOptions, countSegments, type FileSegment, PieceCounter } from "./counter.ts";

/** The message a counting worker receives. */
export interface CountRequest {
  /** What to count. */
  segments: FileSegment[];
  /** How to cut text into pieces. */
  options: CountOptions;
  /** Input encoding. */
  encoding: TextEncoding;
}

/** The messages a counting worker sends. */
export type CountReply =
  | { type: "progress"; bytes: number }
  | { type: "done"; pieces: string[]; counts: Float64Array; nul: number }
  | { type: "error"; message: string; user: boolean };

self.onmessage = async (event: MessageEvent<CountRequest>) => {
  const { segments, options, encoding } = event.data;
  const post = (m: CountReply) => self.postMessage(m);
  try {
    const counter = new PieceCounter(options);
    let pending = 0;
    let nul = 0;
    await countSegments(segments, counter, encoding, (n) => {
      pending += n;
      if (pending >= 1 << 22) {
        post({ type: "progress", bytes: pending });
        pending = 0;
      }
    }, (n) => nul += n);
    if (pending) post({ type: "progress", bytes: pending });
    post({
      type: "done",
      pieces: [...counter.counts.keys()],
      counts: Float64Array.from(counter.counts.values()),
      nul,
    });
  } catch (e) {
    post({ type: "error", message: (e as Error).message, user: e instanceof BenteviError });
  }
};
