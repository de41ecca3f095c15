/**
 * `bentevi learn`: short runnable lessons, in Portuguese, that use Bentevi's real code on a
 * tiny model built on the spot from the bundled demo dialogues (`data/demo/dialogos.jsonl`, or
 * a corpus of your own): how text becomes tokens, what an embedding table holds, where
 * attention looks, and how training brings the loss down. Each lesson prints what it does as
 * it goes, returns its figures (for tests and for the curious), and ends with something to
 * change and run again.
 *
 * @module
 */
import { BenteviError, fsError } from "../errors.ts";
import type { Backend } from "../backend/backend.ts";
import { CpuBackend } from "../backend/cpu/mod.ts";
import { BatchLoader } from "../data/dataset/loader.ts";
import { createLanguageModel, type LanguageModel } from "../generate/inference.ts";
import { generate } from "../generate/generator.ts";
import type { GptConfig } from "../model/gpt/config.ts";
import { createModel } from "../model/factory.ts";
import { initWeights } from "../model/init.ts";
import { ParameterStore } from "../model/params.ts";
import type { NamedTensor } from "../io/safetensors.ts";
import { inspectText, showBytes } from "../tokenizer/inspect.ts";
import type { Tokenizer } from "../tokenizer/tokenizer.ts";
import { trainTokenizer } from "../tokenizer/trainer.ts";
import { evaluate } from "../train/evaluate.ts";
import { defaultTrainOptions } from "../train/options.ts";
import { learningRate } from "../train/schedule.ts";
import { TrainStep } from "../train/step.ts";
import { bundledDemoFile } from "../demo/demo.ts";
import { explainStep, formatStepWalkthrough } from "./step.ts";

/** The lessons, in the order they build on each other. */
export const LESSONS = ["tokenization", "embeddings", "attention", "training"] as const;

/** One of {@link LESSONS}. */
export type LessonName = typeof LESSONS[number];

/** What a lesson can be told (every field has a default). */
export interface LessonOptions {
  /** The sentence the lesson studies. */
  text?: string;
  /**
   * Vocabulary of the tokenizer trained for the lesson (default 400 for tokenization, where
   * words still break into pieces; 1000 for the others, where common words are whole tokens).
   */
  vocabSize?: number;
  /** Training steps of the tiny model (default 200; the tokenization lesson trains none). */
  steps?: number;
  /** Peak learning rate (default 3e-3). */
  lr?: number;
  /** A text, `.jsonl` (its `"text"` fields) file to learn from instead of the demo dialogues. */
  corpus?: string;
  /** Seed of the model's initialisation and of the batches (default 1). */
  seed?: number;
  /** Where the tiny model runs (default the CPU backend: it is tiny). */
  backend?: Backend;
  /** Receives each line of the lesson as it is written (default: nothing; see the result). */
  print?: (line: string) => void;
}

/** What a lesson printed, and its figures. */
export interface LessonResult {
  /** The lesson. */
  lesson: LessonName;
  /** Everything it printed. */
  lines: string[];
  /** Its figures, by name (what the tests check). */
  facts: Record<string, unknown>;
}

const DEFAULT_TEXT: Record<LessonName, string> = {
  tokenization: "O bem-te-vi cantou na janela de manhã.",
  embeddings: "dia não você pão ajudar",
  attention: "Oi, tudo bem? Tudo ótimo por aqui!",
  training: "Bom dia! Como",
};

/** The lesson's corpus: documents of plain text. */
async function readCorpus(path: string | undefined): Promise<{ name: string; docs: string[] }> {
  const file = path ?? bundledDemoFile("dialogos.jsonl");
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    throw fsError(e, file);
  }
  let docs: string[];
  if (/\.jsonl$/i.test(file)) {
    docs = [];
    for (const [i, line] of text.split("\n").entries()) {
      if (!line.trim()) continue;
      let rec: { text?: unknown };
      try {
        rec = JSON.parse(line);
      } catch {
        throw new BenteviError(`${file}:${i + 1}: not valid JSON`);
      }
      if (typeof rec?.text !== "string") {
        throw new BenteviError(`${file}:${i + 1}: a JSONL corpus needs a "text" field per line`);
      }
      docs.push(rec.text);
    }
  } else docs = text.split(/\n\s*\n/);
  // The dialogues' chat tokens are markup, not Portuguese: the lessons learn the words.
  docs = docs.map((d) => d.replace(/<\|[a-z]+\|>/g, "").trim()).filter((d) => d.length > 0);
  const chars = docs.reduce((a, d) => a + d.length, 0);
  if (chars < 2000) {
    throw new BenteviError(
      `${file}: ${chars} characters is too little to learn from (give at least 2,000)`,
    );
  }
  return { name: path ?? "data/demo/dialogos.jsonl", docs };
}

async function lessonTokenizer(docs: string[], vocabSize: number): Promise<Tokenizer> {
  async function* texts() {
    for (const d of docs) yield d + "\n";
  }
  return await trainTokenizer(texts(), { vocabSize, minFrequency: 2 });
}

/** The tiny GPT of the lessons: 2 blocks, 2 heads of 16, context 32. */
function tinyConfig(vocabSize: number): GptConfig {
  return {
    arch: "gpt",
    vocabSize,
    contextLength: 32,
    dModel: 32,
    nLayer: 2,
    nHead: 2,
    mlpDim: 128,
    layerNormEps: 1e-5,
  };
}

/** The corpus as one token stream (end-of-text between documents), 90 % / 10 % split. */
function corpusTokens(tok: Tokenizer, docs: string[]): { train: Int32Array; val: Int32Array } {
  const ids: number[] = [];
  for (const d of docs) {
    ids.push(...tok.encode(d));
    if (tok.endOfTextId != null) ids.push(tok.endOfTextId);
  }
  const cut = Math.floor(ids.length * 0.9);
  return { train: Int32Array.from(ids.slice(0, cut)), val: Int32Array.from(ids.slice(cut)) };
}

/** Trains the tiny model for `steps` with the real training step; reports the loss as it goes. */
async function trainTiny(
  backend: Backend,
  config: GptConfig,
  tokens: { train: Int32Array; val: Int32Array },
  o: { steps: number; lr: number; seed: number },
  say: (line: string) => void,
  every = 0,
): Promise<{ weights: Map<string, NamedTensor>; losses: number[]; valLoss: number }> {
  const B = 4, T = config.contextLength;
  const store = new ParameterStore(backend, config);
  store.load(initWeights(config, o.seed));
  const model = createModel(backend, config, store, B, T);
  const options = defaultTrainOptions(config, Math.max(1, o.steps));
  const schedule = { ...options, lr: o.lr, minLr: o.lr / 10, warmup: Math.min(20, o.steps) };
  const step = new TrainStep(model, { ...options, learningRate: (s) => learningRate(s, schedule) });
  const loader = new BatchLoader({ tokens: tokens.train }, {
    batchSize: B,
    context: T,
    seed: o.seed,
  });
  const losses: number[] = [];
  try {
    for (let s = 0; s < o.steps; s++) {
      const lr = step.record(s, (x, y) => loader.next(x, y));
      const { loss } = await step.readStats();
      losses.push(loss);
      if (every > 0 && (s === 0 || (s + 1) % every === 0 || s === o.steps - 1)) {
        // The mean since the last line: one batch of 4 sequences is a noisy measure.
        const recent = losses.slice(s === 0 ? 0 : losses.length - ((s + 1) % every || every));
        const mean = recent.reduce((a, b) => a + b, 0) / recent.length;
        say(
          `  passo ${String(s + 1).padStart(4)}  perda ${mean.toFixed(3)}` +
            `${recent.length > 1 ? ` (média de ${recent.length} passos)` : ""}  lr ${
              lr.toExponential(1)
            }`,
        );
      }
    }
    const evalModel = createModel(backend, config, store, 1, T);
    let valLoss = NaN;
    try {
      valLoss = (await evaluate(evalModel, tokens.val, 16)).loss;
    } finally {
      evalModel.free();
    }
    return { weights: await store.weights(), losses, valLoss };
  } finally {
    step.free();
    model.free();
    store.free();
  }
}

const cosine = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb || 1);
};

const q = (s: string) => JSON.stringify(s);

/**
 * Runs one lesson. Everything it prints goes to `options.print` as it is written and into the
 * result's `lines`; its figures are in `facts`.
 *
 * @example
 * ```ts
 * import { runLesson } from "./lessons.ts";
 * const r = await runLesson("tokenization", { vocabSize: 300 });
 * console.log(r.lines[0]);
 * ```
 */
export async function runLesson(
  name: LessonName,
  options: LessonOptions = {},
): Promise<LessonResult> {
  if (!(LESSONS as readonly string[]).includes(name)) {
    throw new BenteviError(`unknown lesson "${name}"; choose one of ${LESSONS.join(", ")}`);
  }
  const lines: string[] = [];
  const say = (line = "") => {
    lines.push(line);
    options.print?.(line);
  };
  const text = options.text ?? DEFAULT_TEXT[name];
  if (!text.trim()) throw new BenteviError("--text is empty");
  const vocabSize = options.vocabSize ?? (name === "tokenization" ? 400 : 1000);
  const steps = options.steps ?? 200;
  const lr = options.lr ?? 3e-3;
  const seed = options.seed ?? 1;
  if (!Number.isInteger(steps) || steps < 0) {
    throw new BenteviError(`--steps must be an integer ≥ 0, got ${steps}`);
  }
  if (!(lr > 0 && lr < 1)) throw new BenteviError(`--lr must be in (0, 1), got ${lr}`);
  const corpus = await readCorpus(options.corpus);
  const chars = corpus.docs.reduce((a, d) => a + d.length, 0);
  const facts: Record<string, unknown> = {};
  const backend = options.backend ?? new CpuBackend();

  if (name === "tokenization") {
    say("Lição 1 — Tokenização: como o texto vira números");
    say("");
    say("Um modelo de linguagem não lê letras: lê ids de tokens. O tokenizador BPE (byte-level)");
    say("começa com os 256 bytes possíveis e aprende, no corpus, a juntar os pares de tokens mais");
    say(
      "frequentes — cada junção (merge) vira um token novo, até o vocabulário ter o tamanho pedido.",
    );
    say("");
    say(`Corpus: ${corpus.name} (${corpus.docs.length} textos, ${chars} caracteres).`);
    const tok = await lessonTokenizer(corpus.docs, vocabSize);
    const merges = tok.parts.model.merges;
    say(`Treinei um tokenizador de ${tok.vocabSize} tokens: ${merges.length} merges aprendidos.`);
    say("As primeiras junções aprendidas (as dos pares mais frequentes):");
    const show = (token: string) => showBytes(tok.tokenBytes(tok.tokenToId(token)!)!);
    const firstMerges = merges.slice(0, 10).map(([a, b]) => [show(a), show(b), show(a + b)]);
    for (const [i, [a, b, ab]] of firstMerges.entries()) say(`  #${i}: ${a} + ${b} → ${ab}`);
    say("");
    say(`Agora o texto ${q(text)}, passo a passo (o mesmo que \`bentevi tokenizer inspect\`):`);
    for (const l of inspectText(tok, text).text.split("\n")) say("  " + l);
    say("");
    say("Quanto maior o vocabulário, menos tokens por texto (e mais bytes por token):");
    const bytes = new TextEncoder().encode(text).length;
    const sizes: { vocab: number; tokens: number }[] = [];
    const smallest = tok.vocabSize - merges.length; // specials + 256 bytes: no merges at all
    for (const v of [smallest, vocabSize, vocabSize * 2]) {
      const t = v === vocabSize ? tok : await lessonTokenizer(corpus.docs, v);
      const n = t.encode(text).length;
      sizes.push({ vocab: t.vocabSize, tokens: n });
      say(
        `  vocabulário ${String(t.vocabSize).padStart(5)}: ${String(n).padStart(3)} tokens, ${
          (bytes / n).toFixed(2)
        } bytes por token`,
      );
    }
    const ids = Array.from(tok.encode(text));
    const back = tok.decode(ids);
    say("");
    say(
      `E a volta: decode(encode(texto)) ${
        back === text ? "devolve exatamente o texto" : "NÃO devolve o texto"
      }.`,
    );
    facts.merges = firstMerges;
    facts.ids = ids;
    facts.sizes = sizes;
    facts.roundTrip = back === text;
    say("");
    say("Experimente:");
    say(`  bentevi learn tokenization --text "Sua frase aqui" --vocab-size ${vocabSize * 4}`);
    say("  (palavras raras se partem em pedaços; com vocabulário maior, viram um token só)");
  } else {
    const tok = await lessonTokenizer(corpus.docs, vocabSize);
    const config = tinyConfig(tok.vocabSize);
    const tokens = corpusTokens(tok, corpus.docs);
    const describe =
      `GPT minúsculo: ${config.nLayer} blocos, ${config.nHead} cabeças, largura ${config.dModel}, ` +
      `contexto ${config.contextLength}, vocabulário ${config.vocabSize}`;
    if (name === "embeddings") {
      say("Lição 2 — Embeddings: cada token é um vetor");
      say("");
      say("A primeira camada do modelo é uma tabela: uma linha de números (um vetor) por token do");
      say("vocabulário. O id do token escolhe a linha. No começo os números são aleatórios; o");
      say(
        "treino os ajusta para que tokens usados de forma parecida fiquem com vetores parecidos.",
      );
      say("");
      say(`Modelo: ${describe}. Corpus: ${corpus.name}.`);
      const words = text.split(/\s+/).filter(Boolean);
      const probes = words.map((w) => {
        const ids = tok.encode(" " + w);
        return { word: w, id: ids[0], whole: ids.length === 1 };
      });
      let before: NamedTensor = initWeights(config, seed).get("wte.weight")!;
      const C = config.dModel;
      const row = (t: NamedTensor, id: number) => t.data.subarray(id * C, id * C + C);
      say(
        `A tabela wte tem forma [${
          before.shape.join(", ")
        }]: ${config.vocabSize} linhas de ${C} números.`,
      );
      const p0 = probes[0];
      say(
        `Linha do token ${
          q(tok.idToToken(p0.id) ?? "")
        } (id ${p0.id}), primeiros 6 números, antes do treino:`,
      );
      say("  " + Array.from(row(before, p0.id).subarray(0, 6), (x) => x.toFixed(3)).join("  "));
      for (const p of probes) {
        if (!p.whole) {
          say(
            `(${q(p.word)} não é um token só: uso o primeiro pedaço, ${
              q(tok.idToToken(p.id) ?? "")
            })`,
          );
        }
      }
      say("");
      say(`Treinando ${steps} passos (o passo de treino de verdade: forward, backward, AdamW)…`);
      const trained = await trainTiny(backend, config, tokens, { steps, lr, seed }, say);
      let after: NamedTensor = trained.weights.get("wte.weight")!;
      say(
        `Perda: ${trained.losses[0]?.toFixed(3) ?? "—"} → ${
          trained.losses.at(-1)?.toFixed(3) ?? "—"
        }`,
      );
      // Cosines of the rows minus the table's mean row: training moves every row along a
      // shared direction too, which would make every pair look alike.
      const centred = (t: NamedTensor) => {
        const mean = new Float64Array(C);
        const V = config.vocabSize;
        for (let i = 0; i < V * C; i++) mean[i % C] += t.data[i] / V;
        return Float32Array.from(t.data, (x, i) => x - mean[i % C]);
      };
      before = { shape: before.shape, data: centred(before) };
      after = { shape: after.shape, data: centred(after) };
      say("");
      say("Semelhança de cosseno entre os vetores, tirada a média da tabela (1 = mesma direção,");
      say("0 = sem relação, −1 = opostos):");
      const pairs: { a: string; b: string; before: number; after: number }[] = [];
      for (let i = 0; i < probes.length; i++) {
        for (let j = i + 1; j < probes.length; j++) {
          const a = probes[i], b = probes[j];
          const cb = cosine(row(before, a.id), row(before, b.id));
          const ca = cosine(row(after, a.id), row(after, b.id));
          pairs.push({ a: a.word, b: b.word, before: cb, after: ca });
          say(`  ${q(a.word)} × ${q(b.word)}: antes ${cb.toFixed(2)}, depois ${ca.toFixed(2)}`);
        }
      }
      say("");
      say("Os vizinhos mais próximos (cosseno) de cada palavra depois do treino:");
      const neighbours: Record<string, string[]> = {};
      for (const p of probes) {
        const sims: { id: number; s: number }[] = [];
        for (let id = 0; id < config.vocabSize; id++) {
          if (id !== p.id) sims.push({ id, s: cosine(row(after, p.id), row(after, id)) });
        }
        sims.sort((x, y) => y.s - x.s);
        neighbours[p.word] = sims.slice(0, 5).map((x) => tok.decode([x.id]));
        say(
          `  ${q(p.word)}: ${
            sims.slice(0, 5).map((x) => `${q(tok.decode([x.id]))} ${x.s.toFixed(2)}`).join(", ")
          }`,
        );
      }
      facts.shape = before.shape;
      facts.probes = probes;
      facts.pairs = pairs;
      facts.neighbours = neighbours;
      facts.losses = trained.losses;
      say("");
      say(
        "Com poucos minutos de texto, as semelhanças são fracas; mais passos e mais corpus as firmam.",
      );
      say("Experimente:");
      say(`  bentevi learn embeddings --steps ${steps * 4} --text "Brasil você não"`);
    } else if (name === "attention") {
      say("Lição 3 — Atenção: para onde o modelo olha");
      say("");
      say(
        "Em cada bloco, cada posição calcula uma consulta (q), uma chave (k) e um valor (v). O peso",
      );
      say("que a posição t dá à posição s é softmax(q_t · k_s / √d) sobre s ≤ t — nunca o futuro");
      say("(atenção causal). Cada linha de pesos soma 1; a saída é a média dos v com esses pesos.");
      say("");
      say(`Modelo: ${describe}. Treinando ${steps} passos em ${corpus.name}…`);
      const trained = await trainTiny(backend, config, tokens, { steps, lr, seed }, say);
      const model: LanguageModel = createLanguageModel(backend, config, trained.weights, "lesson");
      try {
        const ids = Array.from(tok.encode(text)).slice(0, config.contextLength);
        const labels = ids.map((id) => tok.decode([id]));
        // One token at a time through the KV cache: after each, the last block's weights of
        // that token over everything before it — row by row, the causal matrix.
        const rows: number[][][] = []; // [t][head][s]
        for (const id of ids) {
          await model.feed([id]);
          const att = (await model.lastAttention!())!;
          rows.push(att.weights.map((r) => Array.from(r)));
        }
        const H = config.nHead;
        const w = Math.min(8, Math.max(...labels.map((l) => q(l).length)));
        const cell = (s: string) => s.slice(0, w).padStart(w);
        for (let h = 0; h < H; h++) {
          say("");
          say(
            `Cabeça ${h} do último bloco (linha = quem olha, coluna = para quem; · = futuro, proibido):`,
          );
          say(" ".repeat(w + 2) + labels.map((l) => cell(q(l))).join(" "));
          for (let t = 0; t < ids.length; t++) {
            say(
              cell(q(labels[t])) + "  " +
                labels.map((_, s) => cell(s <= t ? rows[t][h][s].toFixed(2) : "·")).join(" "),
            );
          }
        }
        say("");
        const last = rows.at(-1)!;
        say(`O último token, ${q(labels.at(-1)!)}, olhou sobretudo para:`);
        for (let h = 0; h < H; h++) {
          const order = last[h].map((x, s) => [x, s]).sort((a, b) => b[0] - a[0]).slice(0, 3);
          say(
            `  cabeça ${h}: ${
              order.map(([x, s]) => `${q(labels[s])}@${s} ${x.toFixed(2)}`).join(", ")
            }`,
          );
        }
        say("");
        say("E o passo de geração inteiro, com as formas dos tensores deste modelo:");
        const walk = await explainStep(model, tok, ids, { temperature: 0 });
        for (const l of formatStepWalkthrough(walk).split("\n")) say("  " + l);
        facts.tokens = labels;
        facts.matrix = rows;
        facts.losses = trained.losses;
        say("");
        say("Experimente:");
        say(
          '  bentevi learn attention --text "Sua frase aqui" --steps 0   (modelo sem treino: pesos quase uniformes)',
        );
        say(`  bentevi learn attention --steps ${steps * 4}`);
      } finally {
        model.dispose();
      }
    } else {
      say("Lição 4 — Treino: a perda cai");
      say("");
      say("Treinar é repetir: pegar trechos do corpus, prever cada próximo token, medir o erro");
      say(
        "(perda = entropia cruzada, em nats), calcular o gradiente (backward) e ajustar os pesos",
      );
      say("(AdamW). Um modelo que chuta ao acaso entre V tokens tem perda ln V.");
      say("");
      say(
        `Modelo: ${describe}. Corpus: ${corpus.name} (${tokens.train.length} tokens de treino, ${tokens.val.length} de validação).`,
      );
      say(`Chute ao acaso: ln ${config.vocabSize} = ${Math.log(config.vocabSize).toFixed(3)}.`);
      const sample = async (weights: Map<string, NamedTensor>) => {
        const m = createLanguageModel(backend, config, weights, "lesson");
        try {
          const r = await generate(m, tok, text, {
            maxNewTokens: 24,
            temperature: 0,
            ignoreEndOfText: true,
          });
          return text + r.text;
        } finally {
          m.dispose();
        }
      };
      say("");
      say(`Antes do treino, o modelo continua ${q(text)} assim:`);
      const before = await sample(initWeights(config, seed));
      say(`  ${q(before)}`);
      say("");
      say(
        `Treinando ${steps} passos de 4 × ${config.contextLength} tokens, lr ${lr} (aquecimento e cosseno):`,
      );
      const trained = await trainTiny(
        backend,
        config,
        tokens,
        { steps, lr, seed },
        say,
        Math.max(1, Math.floor(steps / 10)),
      );
      say(`Perda de validação (texto que o modelo não viu): ${trained.valLoss.toFixed(3)}`);
      say("");
      say("Depois do treino:");
      const after = await sample(trained.weights);
      say(`  ${q(after)}`);
      facts.losses = trained.losses;
      facts.valLoss = trained.valLoss;
      facts.uniformLoss = Math.log(config.vocabSize);
      facts.before = before;
      facts.after = after;
      say("");
      say("Experimente:");
      say(
        `  bentevi learn training --steps ${
          steps * 3
        }        (mais passos: perda menor, texto mais parecido com o corpus)`,
      );
      say(
        "  bentevi learn training --lr 0.05          (passo grande demais: a perda oscila ou explode)",
      );
      say("  bentevi learn training --corpus meu_texto.txt");
    }
  }
  return { lesson: name, lines, facts };
}
