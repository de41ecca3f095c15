// Embedding throughput of a checkpoint on each device, alternated: the toolkit's embedder
// (`modelEmbedder`: mean-pooled last hidden state) over passages of a JSONL shard's "text"s cut
// every 700 characters, in batches of 64 (as `index build` sends them).
//
//   deno run -A bench/embed.ts --model out/demo/run/step-000600 \
//     --shard out/demo/text/wiki_00000.jsonl [--passages 128] [--rounds 2] [--devices cpu,native,webgpu]
import { parseArgs } from "node:util";
import type { DeviceChoice } from "../src/backend/mod.ts";
import { modelEmbedder } from "../src/chunking/embedding.ts";
import { EMBED_BATCH } from "../src/retrieval/build.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    model: { type: "string" },
    shard: { type: "string" },
    passages: { type: "string", default: "128" },
    rounds: { type: "string", default: "2" },
    devices: { type: "string", default: "cpu,native,webgpu" },
  },
});
if (!values.model || !values.shard) throw new Error("--model and --shard are required");
const texts: string[] = [];
for (const line of (await Deno.readTextFile(values.shard)).split("\n")) {
  if (!line.trim()) continue;
  const t = JSON.parse(line).text as string;
  for (let i = 0; i < t.length && texts.length < Number(values.passages); i += 700) {
    texts.push(t.slice(i, i + 700));
  }
}
for (let round = 0; round < Number(values.rounds); round++) {
  for (const device of values.devices.split(",") as DeviceChoice[]) {
    const e = await modelEmbedder(values.model, { device });
    try {
      await e.embed(texts.slice(0, 8)); // warm-up (pipelines, first allocations)
      const t0 = performance.now();
      for (let i = 0; i < texts.length; i += EMBED_BATCH) {
        await e.embed(texts.slice(i, i + EMBED_BATCH));
      }
      const s = (performance.now() - t0) / 1000;
      console.log(
        `${device} (${e.model.backend.kind}): ${texts.length} passages, ${
          (texts.length / s).toFixed(1)
        } chunks/s`,
      );
    } finally {
      e.close();
    }
  }
}
