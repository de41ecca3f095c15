/**
 * Chunking throughput on real Portuguese text: all of Machado de Assis (../shared/data/pt/machado,
 * 15 MB) with a 1,000-character budget, and Dom Casmurro with GPT-2 token budgets. Skips cleanly
 * when ../shared/data is absent. Compare with LangChain's RecursiveCharacterTextSplitter side
 * by side: `node ../shared/peers/langchain_chunk.mjs FILE 1000 0` (see docs/chunking.md).
 */
import { chunkText, STRATEGIES } from "../src/chunking/mod.ts";
import { Tokenizer } from "../src/tokenizer/mod.ts";

const DATA = new URL("../../shared/data/", import.meta.url).pathname;

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function readTree(dir: string): string {
  const files: string[] = [];
  const walk = (d: string) => {
    for (const e of [...Deno.readDirSync(d)].sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (e.isDirectory) walk(`${d}/${e.name}`);
      else if (e.name.endsWith(".txt")) files.push(`${d}/${e.name}`);
    }
  };
  walk(dir);
  return files.map((f) => Deno.readTextFileSync(f)).join("");
}

const machadoDir = `${DATA}pt/machado`;
const haveMachado = exists(machadoDir);
if (!haveMachado) console.log("chunking bench: ../shared/data/pt/machado absent, skipping");
const machado = haveMachado ? readTree(machadoDir) : "";

for (const strategy of STRATEGIES) {
  Deno.bench({
    name: `${strategy}, all Machado (15 MB), 1000 chars`,
    group: "machado-1000-chars",
    baseline: strategy === "recursive",
    ignore: !haveMachado,
    n: strategy === "semantic" || strategy === "adaptive" ? 2 : 5,
    warmup: 1,
    fn: () => {
      chunkText(machado, { strategy, maxTokens: 1000 });
    },
  });
}

const gpt2Path = `${DATA}tokenizer/gpt2/tokenizer.json`;
const casmurroPath = `${DATA}pt/machado/romance/marm08.txt`;
const haveGpt2 = exists(gpt2Path) && exists(casmurroPath);
const gpt2 = haveGpt2 ? await Tokenizer.fromFile(gpt2Path) : undefined;
const casmurro = haveGpt2 ? Deno.readTextFileSync(casmurroPath) : "";

for (const strategy of ["sentence", "recursive", "fixed"] as const) {
  Deno.bench({
    name: `${strategy}, Dom Casmurro (${
      (casmurro.length / 1e3).toFixed(0)
    }k chars), 256 GPT-2 tokens`,
    group: "casmurro-256-gpt2",
    ignore: !haveGpt2,
    n: 3,
    warmup: 1,
    fn: () => {
      chunkText(casmurro, { strategy, maxTokens: 256, counter: gpt2 });
    },
  });
}
