/** llm.c token files (`.bin`): `datasetInfo` maps the file (the native shim: FFI) and scans it. */
import { join } from "node:path";
import { datasetInfo } from "../../../src/data/dataset/info.ts";
import { writeTokenDataset } from "../../../src/data/dataset/writer.ts";
import type { FuzzFormat } from "../harness.ts";
import { below, lieInt, type Rng, truncate } from "../mutate.ts";

const FIELDS = [0, 4, 8, 12, 16].map((offset) => ({ offset, size: 4 as const }));

export const llmcBin: FuzzFormat = {
  name: "llmc-bin",
  ffi: true,
  async seeds(work) {
    await Deno.mkdir(work, { recursive: true });
    const seeds = [];
    for (const [label, vocabSize] of [["uint16", 300], ["uint32", 70000]] as const) {
      const path = join(work, `${label}.bin`);
      const tokens = Array.from({ length: 200 }, (_, i) => (i * 7919) % vocabSize);
      await writeTokenDataset(path, tokens, { vocabSize });
      seeds.push({ label, files: { "data.train.bin": await Deno.readFile(path) } });
    }
    return seeds;
  },
  mutate(rng: Rng, bytes: Uint8Array) {
    const op = below(rng, 3);
    if (op === 0) return lieInt(rng, bytes, FIELDS);
    if (op === 1) return truncate(rng, bytes);
    // data bytes: token ids past the vocabulary
    const out = bytes.slice();
    if (out.length > 1024) out[1024 + below(rng, out.length - 1024)] = 0xff;
    return out;
  },
  async run(_root, file) {
    await datasetInfo(file);
  },
};
