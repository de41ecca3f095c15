/**
 * `dataset info`: a token file's header, token count, vocabulary use and most frequent
 * tokens (decoded when a tokenizer is given).
 *
 * @module
 */
import type { Tokenizer } from "../../tokenizer/mod.ts";
import { HEADER_BYTES, TOKEN_FILE_MAGIC } from "./format.ts";
import { openTokenDataset } from "./loader.ts";

/** The figures `dataset info` prints. */
export interface DatasetInfo {
  path: string;
  magic: number;
  version: 1 | 2;
  bytesPerToken: number;
  tokens: number;
  fileBytes: number;
  /** Vocabulary size recorded in the header (0 = unknown). */
  headerVocabSize: number;
  maxTokenId: number;
  /** Distinct token ids present. */
  distinctTokens: number;
  /** Documents, counted by the end-of-text token (when known). */
  documents: number | null;
  endOfTextId: number | null;
  topTokens: { id: number; count: number; share: number; text?: string }[];
  mapped: boolean;
}

/**
 * Inspects a token file.
 *
 * @example
 * ```ts
 * import { writeTokenDataset } from "./writer.ts";
 * import { datasetInfo } from "./info.ts";
 * const path = (await Deno.makeTempDir()) + "/t.bin";
 * await writeTokenDataset(path, [3, 3, 4], { vocabSize: 10 });
 * const info = await datasetInfo(path);
 * console.log(info.tokens, info.distinctTokens, info.topTokens[0].id); // 3 2 3
 * ```
 */
export async function datasetInfo(
  path: string,
  options: { tokenizer?: Tokenizer; top?: number } = {},
): Promise<DatasetInfo> {
  const ds = await openTokenDataset(path);
  try {
    const t = ds.tokens;
    const { ids, count } = countTokens(t, ds.maxTokenId);
    const distinct = ids.length;
    ids.sort((a, b) => count(b) - count(a) || a - b);
    const eot = options.tokenizer?.endOfTextId ?? null;
    const bpt = ds.version === 1 ? 2 : 4;
    return {
      path,
      magic: TOKEN_FILE_MAGIC,
      version: ds.version,
      bytesPerToken: bpt,
      tokens: t.length,
      fileBytes: HEADER_BYTES + t.length * bpt,
      headerVocabSize: ds.vocabSize,
      maxTokenId: ds.maxTokenId,
      distinctTokens: distinct,
      documents: eot !== null ? count(eot) : null,
      endOfTextId: eot,
      topTokens: ids.slice(0, options.top ?? 20).map((id) => ({
        id,
        count: count(id),
        share: count(id) / Math.max(1, t.length),
        ...(options.tokenizer ? { text: options.tokenizer.decode([id]) } : {}),
      })),
      mapped: ds.mapped,
    };
  } finally {
    ds.close();
  }
}

/**
 * How often each id occurs: the ids present (ascending) and a count lookup. A table indexed by
 * id when the ids are dense; a map when the largest id is far above the token count (a file of
 * 200 tokens with an id near 2^24 must not cost a 16-million-entry table and its scan).
 */
function countTokens(
  t: Uint16Array | Uint32Array,
  maxTokenId: number,
): { ids: number[]; count: (id: number) => number } {
  if (maxTokenId + 1 <= Math.max(1 << 16, 4 * t.length)) {
    const counts = new Uint32Array(Math.max(0, maxTokenId + 1));
    for (let i = 0; i < t.length; i++) counts[t[i]]++;
    const ids: number[] = [];
    for (let i = 0; i < counts.length; i++) if (counts[i]) ids.push(i);
    return { ids, count: (id) => counts[id] ?? 0 };
  }
  const counts = new Map<number, number>();
  for (let i = 0; i < t.length; i++) counts.set(t[i], (counts.get(t[i]) ?? 0) + 1);
  return { ids: [...counts.keys()].sort((a, b) => a - b), count: (id) => counts.get(id) ?? 0 };
}

/** A human-readable rendering. */
export function formatDatasetInfo(i: DatasetInfo): string {
  const lines = [
    `file          ${i.path} (${i.fileBytes} bytes, ${i.mapped ? "memory-mapped" : "read"})`,
    `header        magic ${i.magic}, version ${i.version} (uint${i.bytesPerToken * 8}), vocab ${
      i.headerVocabSize || "unknown (0: not recorded, as llm.c writes it)"
    }`,
    `tokens        ${i.tokens}`,
    `vocabulary    ${i.distinctTokens} distinct ids used, largest id ${i.maxTokenId}`,
  ];
  if (i.documents !== null) {
    lines.push(`documents     ${i.documents} (end-of-text id ${i.endOfTextId})`);
  }
  lines.push("top tokens");
  for (const t of i.topTokens) {
    lines.push(
      `  ${String(t.id).padStart(7)}  ${String(t.count).padStart(10)}  ${
        (t.share * 100).toFixed(2).padStart(6)
      }%${t.text !== undefined ? `  ${JSON.stringify(t.text)}` : ""}`,
    );
  }
  return lines.join("\n");
}
